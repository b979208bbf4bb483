"""Answering the referrals query: the deadline table, filtered need-to-know."""

from datetime import datetime

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.referral_queries import DeadlineView, ReferralsQuery, ReferralsReply
from contracts.referrals import ReferralKind, ReferralStage
from contracts.subjects import COORDINATOR
from services.coordinator.deadlines.store import (
    HOLDER_NOTICE,
    DeadlineRecord,
    DeadlineStatus,
    referral_deadlines,
)

__all__ = ["answer_referrals_query", "deadline_view", "may_see_deadline"]


def may_see_deadline(deadline: DeadlineRecord, requester: str) -> bool:
    """Need-to-know: the sender, the recipient, the supervisor (and the coordinator)."""
    return requester == COORDINATOR or requester in (
        deadline.sender,
        deadline.recipient,
        deadline.supervisor,
    )


def deadline_view(deadline: DeadlineRecord, now: datetime) -> DeadlineView:
    late_by = None
    if deadline.status == DeadlineStatus.OVERDUE.value and deadline.due_at is not None:
        late_by = ((deadline.met_late_at or now) - deadline.due_at).total_seconds()
    return DeadlineView(
        referral_id=deadline.referral_id,
        case_id=deadline.case_id,
        kind=ReferralKind(deadline.kind),
        stage=ReferralStage(deadline.stage),
        sender=deadline.sender,
        recipient=deadline.recipient,
        supervisor=deadline.supervisor,
        late_party=deadline.recipient,
        period=deadline.period,
        started_at=deadline.started_at,
        due_at=deadline.due_at,
        status=deadline.status,
        met_late_at=deadline.met_late_at,
        rule_version=deadline.rule_version or None,
        problem=deadline.problem,
        late_by_seconds=late_by,
    )


async def answer_referrals_query(
    session: AsyncSession, requester: str, body: bytes, *, now: datetime
) -> ReferralsReply:
    """The deadlines ``requester`` is party to; a stranger gets an empty list."""
    try:
        query = ReferralsQuery.model_validate_json(body or b"{}")
    except ValidationError as exc:
        return ReferralsReply(error=f"bad query: {exc.errors(include_url=False)[0]['msg']}")
    status = DeadlineStatus.OVERDUE if query.overdue_only else None
    rows = await referral_deadlines(session, status=status)
    return ReferralsReply(
        deadlines=[
            deadline_view(row, now)
            for row in rows
            if may_see_deadline(row, requester) and row.kind != HOLDER_NOTICE
        ]
    )
