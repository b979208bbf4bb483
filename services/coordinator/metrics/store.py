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

__all__ = [
    "DeliveryWatchRecord",
    "OverdueRecord",
    "apply_watch_change",
    "count_overdue",
    "count_referrals",
    "count_unacknowledged",
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


async def apply_watch_change(
    session: AsyncSession, change: WatchChange, now: datetime
) -> DeliveryWatchRecord | None:
    """Write ``change``; returns the delivery an acknowledgement closed, if any."""
    match change.action:
        case "mark_overdue":
            await session.merge(
                OverdueRecord(
                    referral_id=change.key, kind=change.label, stage=change.stage, declared_at=now
                )
            )
        case "clear_overdue":
            record = await session.get(OverdueRecord, change.key)
            if record is not None:
                await session.delete(record)
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
