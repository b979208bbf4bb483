"""The coordinator's deadline table: one row per referral and stage, in the database.

Deadlines live here, not in timers, so a restarted coordinator finds them again. A row is
``pending`` until the referral leaves the stage (``met``) or the watcher finds it due
(``overdue``). The move to ``overdue`` is a conditional update in the same transaction as
the outbox rows of the notices: whoever wins it — one watcher, one replica, one run after a
crash — is the only one that ever sends them.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.coordinator.deadlines import StageDeadline, is_met
from services.coordinator.store import CoordinatorTable
from services.runtime.utc_column import UtcDateTime

__all__ = [
    "DeadlineRecord",
    "DeadlineStatus",
    "claim_overdue",
    "due_deadlines",
    "open_deadlines",
    "referral_deadlines",
    "settle_deadlines",
]


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    MET = "met"
    OVERDUE = "overdue"


class DeadlineRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_deadline"

    referral_id: str = Field(primary_key=True, max_length=26)
    stage: str = Field(primary_key=True, max_length=20)
    case_id: str = Field(index=True, max_length=26)
    kind: str = Field(max_length=40)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    supervisor: str | None = Field(default=None, max_length=63)
    started_at: datetime = Field(sa_type=UtcDateTime)
    due_at: datetime = Field(sa_type=UtcDateTime, index=True)
    period: str = Field(max_length=40)
    status: str = Field(default=DeadlineStatus.PENDING.value, max_length=10, index=True)
    settled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """When it was met, or when it went overdue."""
    met_late_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """For an overdue stage: when the recipient finally did what it owed."""


async def open_deadlines(
    session: AsyncSession,
    *,
    referral_id: str,
    case_id: str,
    kind: ReferralKind,
    sender: str,
    recipient: str,
    supervisor: str | None,
    started_at: datetime,
    deadlines: list[StageDeadline],
) -> None:
    """Start the clocks a step opened (a stage is opened at most once per referral)."""
    for deadline in deadlines:
        existing = await session.get(DeadlineRecord, (referral_id, deadline.stage.value))
        if existing is not None:
            continue
        session.add(
            DeadlineRecord(
                referral_id=referral_id,
                stage=deadline.stage.value,
                case_id=case_id,
                kind=kind.value,
                sender=sender,
                recipient=recipient,
                supervisor=supervisor,
                started_at=started_at,
                due_at=deadline.due_at,
                period=deadline.period.describe(),
            )
        )


async def settle_deadlines(
    session: AsyncSession, referral_id: str, state: ReferralState, now: datetime
) -> None:
    """Mark met every open stage the referral's new ``state`` no longer owes (late or not)."""
    rows = await session.exec(
        select(DeadlineRecord).where(DeadlineRecord.referral_id == referral_id)
    )
    for row in rows.all():
        if not is_met(ReferralStage(row.stage), state):
            continue
        if row.status == DeadlineStatus.PENDING.value:
            row.status = DeadlineStatus.MET.value
            row.settled_at = now
            session.add(row)
        elif row.status == DeadlineStatus.OVERDUE.value and row.met_late_at is None:
            row.met_late_at = now
            session.add(row)


async def due_deadlines(session: AsyncSession, now: datetime) -> list[DeadlineRecord]:
    """Pending deadlines that have run out, earliest first."""
    rows = await session.exec(
        select(DeadlineRecord)
        .where(
            DeadlineRecord.status == DeadlineStatus.PENDING.value,
            col(DeadlineRecord.due_at) <= now,
        )
        .order_by(col(DeadlineRecord.due_at))
    )
    return list(rows.all())


async def claim_overdue(session: AsyncSession, referral_id: str, stage: str, now: datetime) -> bool:
    """Move one deadline from pending to overdue; ``False`` when someone else already did."""
    result = await session.exec(
        update(DeadlineRecord)
        .where(
            col(DeadlineRecord.referral_id) == referral_id,
            col(DeadlineRecord.stage) == stage,
            col(DeadlineRecord.status) == DeadlineStatus.PENDING.value,
        )
        .values(status=DeadlineStatus.OVERDUE.value, settled_at=now)
    )
    return bool(result.rowcount == 1)


async def referral_deadlines(
    session: AsyncSession, *, status: DeadlineStatus | None = None
) -> list[DeadlineRecord]:
    """Every deadline (optionally of one status), earliest due first."""
    query = select(DeadlineRecord).order_by(col(DeadlineRecord.due_at))
    if status is not None:
        query = query.where(DeadlineRecord.status == status.value)
    return list((await session.exec(query)).all())
