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
    "Watchlists",
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


class Watchlists:
    """One transaction's writes to the watch lists.

    Every referral step clears the referral's overdue mark, so a batch reads the marks of
    its referrals at once (:meth:`preload`) and a step whose referral has none (nearly
    every step) costs no statement.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._overdue: dict[str, OverdueRecord | None] = {}

    async def preload(self, referral_ids: set[str]) -> None:
        """Read these referrals' overdue marks in one statement."""
        wanted = referral_ids - self._overdue.keys()
        if not wanted:
            return
        self._overdue.update(dict.fromkeys(wanted))
        rows = await self._session.exec(
            select(OverdueRecord).where(col(OverdueRecord.referral_id).in_(wanted))
        )
        self._overdue.update({row.referral_id: row for row in rows})

    async def apply(self, change: WatchChange, now: datetime) -> DeliveryWatchRecord | None:
        """Write ``change``; returns the delivery an acknowledgement closed, if any."""
        session = self._session
        match change.action:
            case "mark_overdue":
                await self._mark_overdue(change, now)
            case "clear_overdue":
                await self._clear_overdue(change.key)
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

    async def _mark_overdue(self, change: WatchChange, now: datetime) -> None:
        await self.preload({change.key})
        marked = self._overdue[change.key]
        if marked is None:
            marked = OverdueRecord(referral_id=change.key, kind="", stage="", declared_at=now)
        # declared again (another stage): the referral's one mark is moved
        marked.kind, marked.stage, marked.declared_at = change.label, change.stage, now
        self._session.add(marked)
        self._overdue[change.key] = marked

    async def _clear_overdue(self, referral_id: str) -> None:
        await self.preload({referral_id})
        marked = self._overdue[referral_id]
        if marked is not None:
            await self._session.delete(marked)
            self._overdue[referral_id] = None


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
