"""The coordinator's tables: case files, their parties and referrals, and the timeline."""

from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseStatus
from contracts.queries import CaseParty, CaseView, ReferralView, TimelineEntry
from contracts.referrals import ReferralKind, ReferralState
from services.coordinator.domain import CaseFile, CaseReferral, TimelineLine

__all__ = ["CoordinatorTable", "append_timeline", "case_view", "load_case", "save_case"]


class CoordinatorTable(SQLModel, registry=registry()):
    """Base of the coordinator's own tables."""


class CaseRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_case"

    case_id: str = Field(primary_key=True, max_length=26)
    title: str = ""
    status: str = Field(max_length=20)
    updated_at: datetime


class CasePartyRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_case_party"

    case_id: str = Field(primary_key=True, max_length=26)
    agency_id: str = Field(primary_key=True, max_length=63)
    local_ref: str | None = None
    opened: bool = False
    closed: bool = False


class CaseReferralRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_referral"

    referral_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    kind: str = Field(max_length=40)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    state: str = Field(max_length=20)
    issued_at: datetime
    updated_at: datetime
    supervisor: str | None = Field(default=None, max_length=63)


class TimelineRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_timeline"

    seq: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=26)
    event_id: str = Field(unique=True, max_length=26)
    event_type: str = Field(max_length=60)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    time: datetime
    summary: str
    status_after: str = Field(max_length=20)


async def load_case(session: AsyncSession, case_id: str) -> CaseFile | None:
    record = await session.get(CaseRecord, case_id)
    if record is None:
        return None
    parties = await session.exec(select(CasePartyRecord).where(CasePartyRecord.case_id == case_id))
    party_rows = list(parties.all())
    referrals = await session.exec(
        select(CaseReferralRecord).where(CaseReferralRecord.case_id == case_id)
    )
    return CaseFile(
        case_id=case_id,
        title=record.title,
        status=CaseStatus(record.status),
        parties={p.agency_id: p.local_ref for p in party_rows},
        opened=frozenset(p.agency_id for p in party_rows if p.opened),
        closed=frozenset(p.agency_id for p in party_rows if p.closed),
        referrals={
            r.referral_id: CaseReferral(
                r.referral_id,
                r.kind,
                r.sender,
                r.recipient,
                ReferralState(r.state),
                r.issued_at,
                r.updated_at,
                r.supervisor,
            )
            for r in referrals
        },
    )


async def save_case(session: AsyncSession, case: CaseFile, now: datetime) -> None:
    """Upsert the case file (small: a handful of parties and referrals per case)."""
    await session.merge(
        CaseRecord(case_id=case.case_id, title=case.title, status=case.status.value, updated_at=now)
    )
    for agency_id, local_ref in case.parties.items():
        await session.merge(
            CasePartyRecord(
                case_id=case.case_id,
                agency_id=agency_id,
                local_ref=local_ref,
                opened=agency_id in case.opened,
                closed=agency_id in case.closed,
            )
        )
    for referral in case.referrals.values():
        await session.merge(
            CaseReferralRecord(
                referral_id=referral.referral_id,
                case_id=case.case_id,
                kind=referral.kind,
                sender=referral.sender,
                recipient=referral.recipient,
                state=referral.state.value,
                issued_at=referral.issued_at,
                updated_at=referral.updated_at,
                supervisor=referral.supervisor,
            )
        )


def append_timeline(session: AsyncSession, case_id: str, line: TimelineLine) -> None:
    session.add(
        TimelineRecord(
            case_id=case_id,
            event_id=line.event_id,
            event_type=line.event_type,
            sender=line.sender,
            recipient=line.recipient,
            time=line.time,
            summary=line.summary,
            status_after=line.status_after.value,
        )
    )


async def case_view(session: AsyncSession, case: CaseFile) -> CaseView:
    """The case as a query answer, timeline in the order the coordinator applied it."""
    lines = await session.exec(
        select(TimelineRecord)
        .where(TimelineRecord.case_id == case.case_id)
        .order_by(col(TimelineRecord.seq))
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
