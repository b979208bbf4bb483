"""China's customs clocks on a real bus: goods go when a clock runs out, exactly once.

Notice → the holder's application and bond within 3 working days (art. 16) → detention →
release after 20 (art. 15 detentions) or 50 (art. 16 detentions) working days unless a
court's assistance notice arrives (art. 24). A clock past the calendar's years is recorded
as not computable, counted in a metric, and releases nothing.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import nats
import pytest

from contracts.customs import DetentionBasis, GoodsDetained
from contracts.subjects import EVENT_STREAM, stored_filter
from services.cli.demo_support import detention
from services.customs.app import CustomsService
from services.customs.confirmation_store import ClockStatus, clocks_of
from services.customs.store import DetentionRecord
from services.runtime.bus import FixedClock, StepRefused, last_stored
from services.runtime.identity import Settings
from services.sdk import Bus
from tests.integration.conftest import StartBus
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
POLICY = "[customs]\nwatch_seconds = 0.2\n"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def customs_bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    return await start_bus(
        settings, ("coordinator", "customs-shanghai"), clock=clock, policy=POLICY
    )


def _customs(bus: Bus) -> CustomsService:
    customs = bus.services["customs-shanghai"]
    assert isinstance(customs, CustomsService)
    return customs


async def _status(customs: CustomsService, detention_id: str) -> str:
    async with customs.database.transaction() as session:
        record = await session.get(DetentionRecord, detention_id)
    assert record is not None
    return record.status


async def _stream_count(bus: Bus, event_type: str) -> int:
    nc = await nats.connect(bus.nats_url)
    try:
        info = await nc.jetstream().stream_info(
            EVENT_STREAM,
            subjects_filter=stored_filter("customs-shanghai", "coordinator", event_type),
        )
    finally:
        await nc.close()
    return sum((info.state.subjects or {}).values())


async def _released(customs: CustomsService, detention_id: str) -> None:
    async def released() -> bool:
        return await _status(customs, detention_id) == "released"

    await wait_until(released, what=f"detention {detention_id} to be released")


@pytest.mark.timeout(120)
async def test_goods_go_when_a_clock_runs_out_and_stay_when_its_step_came_in_time(
    customs_bus: Bus, clock: FixedClock
) -> None:
    customs = _customs(customs_bus)
    async with customs.unit_of_work() as uow:
        unanswered = await customs.notify_rights_holder(uow, detention(description="socks"))
        answered = await customs.notify_rights_holder(uow, detention(description="shoes"))
        on_application = await customs.detain_goods(uow, detention(description="bags"))
        with_court = await customs.detain_goods(uow, detention(description="belts"))
    clock.advance(timedelta(days=1))
    async with customs.unit_of_work() as uow:
        await customs.record_application(uow, answered.detention_id, bond_ref="BOND-1")
        await customs.record_court_notice(uow, with_court.detention_id, notice_ref="COURT-1")

    # Thursday 24:00 Shanghai is the last moment of the 3 working days; Friday they are gone
    clock.advance(timedelta(days=3))  # Friday 6 March, 10:00
    customs.confirmation_watch.wake()
    await _released(customs, unanswered.detention_id)
    assert await _status(customs, answered.detention_id) == "detained"

    # 20 working days after Monday 2 March: Monday 30 March, 24:00 → released on the 31st
    clock.advance(timedelta(days=25))  # Tuesday 31 March
    customs.confirmation_watch.wake()
    await _released(customs, on_application.detention_id)
    await asyncio.sleep(1.0)  # several more rounds of the watcher
    assert await _status(customs, with_court.detention_id) == "detained"
    assert await _status(customs, answered.detention_id) == "detained"  # 50 days, not 20

    # 50 working days after Tuesday 3 March (detention after the notice): Friday 15 May
    clock.advance(timedelta(days=46))  # Saturday 16 May
    customs.confirmation_watch.wake()
    await _released(customs, answered.detention_id)
    await asyncio.sleep(1.0)
    assert await _status(customs, with_court.detention_id) == "detained"
    assert await _stream_count(customs_bus, "goods.released") == 3
    assert await _stream_count(customs_bus, "goods.detained") == 3  # not the unanswered one
    with pytest.raises(StepRefused, match="is released"):
        async with customs.unit_of_work() as uow:
            await customs.record_application(uow, unanswered.detention_id, bond_ref="LATE")


@pytest.mark.timeout(60)
async def test_an_application_after_the_window_is_refused(
    customs_bus: Bus, clock: FixedClock
) -> None:
    customs = _customs(customs_bus)
    async with customs.unit_of_work() as uow:
        held = await customs.notify_rights_holder(uow, detention())
    clock.advance(timedelta(days=3, hours=14, minutes=1))  # Thursday 24:01 in Shanghai
    with pytest.raises(StepRefused, match="after the window closed"):
        async with customs.unit_of_work() as uow:
            await customs.record_application(uow, held.detention_id, bond_ref="LATE")


@pytest.mark.timeout(60)
async def test_a_detention_says_its_basis_release_time_and_rule_on_the_wire(
    customs_bus: Bus,
) -> None:
    customs = _customs(customs_bus)
    async with customs.unit_of_work() as uow:
        held = await customs.detain_goods(uow, detention(perishable=True))

    async def published() -> bool:
        return await _stream_count(customs_bus, "goods.detained") == 1

    await wait_until(published, what="goods.detained on the stream")
    nc = await nats.connect(customs_bus.nats_url)
    try:
        msg = await last_stored(
            nc.jetstream(), stored_filter("customs-shanghai", "coordinator", "goods.detained")
        )
    finally:
        await nc.close()
    assert msg is not None
    event = GoodsDetained.model_validate(json.loads(msg.data or b"{}")["data"])
    assert event.detention_id == held.detention_id
    assert event.basis is DetentionBasis.APPLICATION
    assert event.release_due_at == datetime(2026, 3, 30, 16, 0, tzinfo=UTC)
    assert event.rule_version == "customs.court_notice.on_application@2018-03-19"
    assert event.perishable is True  # carried, and ignored: no shorter clock


@pytest.mark.timeout(60)
async def test_a_clock_past_the_calendar_is_not_computable_and_releases_nothing(
    customs_bus: Bus, clock: FixedClock
) -> None:
    customs = _customs(customs_bus)
    clock.advance(datetime(2026, 12, 4, 2, 0, tzinfo=UTC) - START)  # 20th working day: 2027
    async with customs.unit_of_work() as uow:
        held = await customs.detain_goods(uow, detention())
    async with customs.database.transaction() as session:
        [release] = await clocks_of(session, held.detention_id)
    assert release.status == ClockStatus.NOT_COMPUTABLE.value
    assert release.due_at is None
    assert release.problem is not None
    assert "2027" in release.problem
    clock.advance(timedelta(days=400))
    customs.confirmation_watch.wake()
    await asyncio.sleep(1.0)
    assert await _status(customs, held.detention_id) == "detained"
    counted = customs.metrics.families.calendar_not_covered.labels(
        "customs-shanghai", "customs.court_notice.on_application"
    )
    assert counted._value.get() == 1
