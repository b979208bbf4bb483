"""The case as the stores read it, table by table: the oracle the one-statement case query
(:mod:`services.coordinator.cases.case_query`) is checked against. The coordinator itself answers
from that one statement; this slower read lives with the tests that need it."""

from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseStatus
from contracts.queries import CaseParty, CaseView, ReferralView, TimelineEntry
from contracts.referrals import ReferralKind
from services.coordinator.cases.domain import CaseFile
from services.coordinator.cases.store import TimelineRecord
from services.runtime.storage import execute, table_of


async def case_view(session: AsyncSession, case: CaseFile) -> CaseView:
    """The case as a query answer, timeline in the order the coordinator applied it."""
    timeline = table_of(TimelineRecord)
    lines = await execute(
        session,
        core_select(timeline).where(timeline.c.case_id == case.case_id).order_by(timeline.c.seq),
    )
    return CaseView(
        case_id=case.case_id,
        title=case.title,
        status=case.status,
        parties=[CaseParty(agency_id=a, local_ref=ref) for a, ref in sorted(case.parties.items())],
        referrals=[
            ReferralView(
                referral_id=r.referral_id,
                kind=ReferralKind(r.kind),
                sender=r.sender,
                recipient=r.recipient,
                state=r.state,
                issued_at=r.issued_at,
                updated_at=r.updated_at,
            )
            for r in sorted(case.referrals.values(), key=lambda r: r.issued_at)
        ],
        timeline=[
            TimelineEntry(
                seq=line.seq or 0,
                event_id=line.event_id,
                event_type=line.event_type,
                sender=line.sender,
                recipient=line.recipient,
                time=line.time,
                summary=line.summary,
                status_after=CaseStatus(line.status_after),
            )
            for line in lines
        ],
    )
