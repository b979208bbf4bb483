"""A deadline row read by one transaction and changed by another before it writes.

The coordinator's batch reads its referrals' deadline rows when it starts; the deadline
watch may declare one of them overdue (and send its notices) before the batch commits. The
batch must then record the step as met *late*, never write ``met`` over ``overdue``; and the
watch, healing a not-computable row the coordinator met meanwhile, must not make it pending
again (it would later be declared overdue although it was met). Both databases: on
PostgreSQL the second writer does not wait for the first, on SQLite a read takes no lock.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.identifiers import new_ulid
from contracts.referrals import ReferralState
from services.coordinator.deadlines.store import (
    DeadlineRecord,
    DeadlineStatus,
    ReferralClocks,
    claim_overdue,
    not_computable_deadlines,
)
from services.coordinator.deadlines.watcher import DeadlineWatch
from services.runtime.bus import FixedClock
from services.runtime.law import BusinessCalendar
from services.runtime.storage import Database

pytestmark = pytest.mark.integration

STARTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DUE = STARTED + timedelta(days=3)
NOW = DUE + timedelta(hours=1)


def _row(status: DeadlineStatus, *, due_at: datetime | None) -> DeadlineRecord:
    return DeadlineRecord(
        referral_id=new_ulid(),
        stage="acknowledge",
        case_id=new_ulid(),
        kind="customs_to_enforcement",
        sender="customs-shanghai",
        recipient="amr-shanghai",
        started_at=STARTED,
        due_at=due_at,
        period="3 calendar days",
        amount=3,
        unit="calendar_days",
        status=status.value,
        problem=None if due_at is not None else "outside the calendar",
    )


async def _stored(database: Database, row: DeadlineRecord) -> DeadlineRecord:
    async with database.transaction() as session:
        session.add(row)
    async with database.transaction() as session:
        found = await session.get(DeadlineRecord, (row.referral_id, row.stage))
        assert found is not None
        return found


async def test_a_step_read_before_the_watch_declared_it_overdue_is_met_late(
    database: Database,
) -> None:
    row = await _stored(database, _row(DeadlineStatus.PENDING, due_at=DUE))
    conflicts: list[str] = []
    claims: list[bool] = []

    async def acknowledge(session: AsyncSession) -> None:
        clocks = ReferralClocks(session)
        await clocks.preload({row.referral_id})  # the batch starts: its rows are read
        if not claims:  # meanwhile the watch finds the stage due and sends its notices
            async with database.transaction() as other:
                claims.append(await claim_overdue(other, row.referral_id, row.stage, NOW))
        await clocks.settle(row.referral_id, ReferralState.ACKNOWLEDGED, NOW)

    await database.write(acknowledge, on_conflict=lambda _n, exc: conflicts.append(repr(exc)))

    assert claims == [True]
    assert len(conflicts) == 1
    assert "a row changed under this transaction" in conflicts[0]
    async with database.transaction() as session:
        stored = await session.get(DeadlineRecord, (row.referral_id, row.stage))
    assert stored is not None
    assert (stored.status, stored.met_late_at) == (DeadlineStatus.OVERDUE.value, NOW)
    assert stored.version == 3  # inserted, declared overdue, met late


async def test_the_watch_never_reopens_a_stage_met_while_it_healed_it(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A not-computable stage is retried by the watch; the coordinator meets it between the
    watch's read and its write. The watch reads again and leaves it met."""
    row = await _stored(database, _row(DeadlineStatus.NOT_COMPUTABLE, due_at=None))
    reads: list[int] = []

    async def read_then_met(session: AsyncSession) -> list[DeadlineRecord]:
        rows = await not_computable_deadlines(session)
        reads.append(len(rows))
        if len(reads) == 1:
            async with database.transaction() as other:
                clocks = ReferralClocks(other)
                await clocks.settle(row.referral_id, ReferralState.ACKNOWLEDGED, NOW)
        return rows

    monkeypatch.setattr(
        "services.coordinator.deadlines.watcher.not_computable_deadlines", read_then_met
    )
    watch = DeadlineWatch(
        database,
        FixedClock(NOW),
        _no_unit_of_work,
        structlog.get_logger(),
        calendar=BusinessCalendar(),
        interval_s=3600,
    )

    assert await watch.recompute_not_computable() == 0

    assert reads == [1, 0]  # read again, and then it is no longer not computable
    async with database.transaction() as session:
        stored = await session.get(DeadlineRecord, (row.referral_id, row.stage))
    assert stored is not None
    assert (stored.status, stored.due_at) == (DeadlineStatus.MET.value, None)


def _no_unit_of_work() -> Any:
    raise AssertionError("recomputing sends no notice")
