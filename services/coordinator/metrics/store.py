"""The coordinator's watch lists: referrals declared overdue, warnings not acknowledged.

Both are gauges an operator alerts on, so they are kept as rows (surviving restarts and
shared by replicas on PostgreSQL) and counted on each scrape.
"""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.coordinator.cases.store import CaseReferralRecord
from services.coordinator.metrics.readings import WatchChange
from services.coordinator.store import CoordinatorTable
from services.runtime.storage import as_utc
from services.sdk import add_row, drop_row, find_row, load_rows

__all__ = [
    "DeliveryWatchRecord",
    "OverdueRecord",
    "apply_watch_change",
    "count_overdue",
    "count_referrals",
    "count_unacknowledged",
    "load_overdue_marks",
]


class OverdueRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_overdue_watch"

    referral_id: str = Field(primary_key=True, max_length=26)
    kind: str = Field(max_length=40)
    stage: str = Field(max_length=20)
    declared_at: datetime


class DeliveryWatchRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_warning_watch"

    warning_id: str = Field(primary_key=True, max_length=26)
    recipient: str = Field(primary_key=True, max_length=63)
    severity: str = Field(max_length=20)
    delivered_at: datetime
    acknowledged_at: datetime | None = Field(default=None, index=True)


async def load_overdue_marks(session: AsyncSession, referral_ids: set[str]) -> None:
    """Read a batch's referrals' overdue marks in one statement: every referral step clears
    its referral's mark, and nearly every referral has none, which then costs no lookup."""
    await load_rows(session, OverdueRecord, col(OverdueRecord.referral_id), referral_ids)


async def apply_watch_change(
    session: AsyncSession, change: WatchChange, now: datetime
) -> DeliveryWatchRecord | None:
    """Write ``change``; returns the delivery an acknowledgement closed, if any."""
    match change.action:
        case "mark_overdue":
            marked = await find_row(session, OverdueRecord, change.key)
            if marked is None:
                add_row(
                    session,
                    OverdueRecord(
                        referral_id=change.key,
                        kind=change.label,
                        stage=change.stage,
                        declared_at=now,
                    ),
                )
            else:  # declared again (another stage): the referral's one mark is moved
                marked.kind, marked.stage, marked.declared_at = change.label, change.stage, now
                session.add(marked)
        case "clear_overdue":
            marked = await find_row(session, OverdueRecord, change.key)
            if marked is not None:
                await drop_row(session, marked)
        case "warning_delivered":
            if await session.get(DeliveryWatchRecord, (change.key, change.party)) is None:
                session.add(
                    DeliveryWatchRecord(
                        warning_id=change.key,
                        recipient=change.party,
                        severity=change.label,
                        delivered_at=now,
                    )
                )
        case "warning_acknowledged":
            delivery = await session.get(DeliveryWatchRecord, (change.key, change.party))
            if delivery is not None and delivery.acknowledged_at is None:
                delivery.acknowledged_at = now
                session.add(delivery)
                return delivery
    return None


async def count_referrals(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.exec(
        select(CaseReferralRecord.kind, CaseReferralRecord.state, func.count()).group_by(
            col(CaseReferralRecord.kind), col(CaseReferralRecord.state)
        )
    )
    return {(kind, state): int(n) for kind, state, n in rows}


async def count_overdue(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.exec(
        select(OverdueRecord.kind, OverdueRecord.stage, func.count()).group_by(
            col(OverdueRecord.kind), col(OverdueRecord.stage)
        )
    )
    return {(kind, stage): int(n) for kind, stage, n in rows}


async def count_unacknowledged(
    session: AsyncSession, now: datetime
) -> dict[str, tuple[int, float]]:
    """severity → (deliveries not acknowledged, age in seconds of the oldest)."""
    rows = await session.exec(
        select(
            DeliveryWatchRecord.severity,
            func.count(),
            func.min(DeliveryWatchRecord.delivered_at),
        )
        .where(col(DeliveryWatchRecord.acknowledged_at).is_(None))
        .group_by(col(DeliveryWatchRecord.severity))
    )
    counts: dict[str, tuple[int, float]] = {}
    for severity, n, oldest in rows:
        oldest = as_utc(oldest)  # an aggregate comes back naive from SQLite
        counts[severity] = (int(n), max(0.0, (now - oldest).total_seconds()))
    return counts
