"""Unconfirmed detentions are released when the window runs out, exactly once."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest

from contracts.subjects import EVENT_STREAM
from services.cli.catalogue import CATALOGUE
from services.cli.demo_support import detention
from services.customs.app import CustomsService
from services.customs.store import DetentionRecord
from services.runtime.bootstrap import Bus
from services.runtime.clock import FixedClock
from services.runtime.errors import StepRefused
from services.runtime.settings import Settings
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
POLICY = "[customs_confirmation]\nwatch_seconds = 0.2\n"


@pytest.fixture
async def customs_bus(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Bus, FixedClock]]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    clock = FixedClock(START)
    running = Bus(settings.model_copy(update={"policy_path": policy}), CATALOGUE, clock=clock)
    await running.start(("coordinator", "customs-shanghai"))
    try:
        yield running, clock
    finally:
        await running.stop()


async def _status(customs: CustomsService, detention_id: str) -> str:
    async with customs.database.transaction() as session:
        record = await session.get(DetentionRecord, detention_id)
    assert record is not None
    return record.status


async def _releases(bus: Bus) -> int:
    nc = await nats.connect(bus.nats_url)
    try:
        info = await nc.jetstream().stream_info(
            EVENT_STREAM, subjects_filter="ipbus.v1.customs-shanghai.coordinator.goods.released"
        )
    finally:
        await nc.close()
    return sum((info.state.subjects or {}).values())


async def test_unconfirmed_goods_are_released_when_their_window_runs_out(
    customs_bus: tuple[Bus, FixedClock],
) -> None:
    bus, clock = customs_bus
    customs = bus.services["customs-shanghai"]
    assert isinstance(customs, CustomsService)
    async with customs.unit_of_work() as uow:
        fish = await customs.detain_goods(
            uow, detention(description="frozen fish", perishable=True)
        )
        shoes = await customs.detain_goods(uow, detention())
        confirmed = await customs.detain_goods(uow, detention(description="bags"))
    async with customs.unit_of_work() as uow:
        await customs.record_confirmation(uow, confirmed.detention_id)

    clock.advance(timedelta(days=4))  # Friday: past 3 working days, not past 10
    customs.confirmation_watch.wake()

    async def fish_released() -> bool:
        return await _status(customs, fish.detention_id) == "released"

    await wait_until(fish_released, what="the perishable goods to be released")
    assert await _status(customs, shoes.detention_id) == "detained"

    clock.advance(timedelta(days=14))
    customs.confirmation_watch.wake()

    async def shoes_released() -> bool:
        return await _status(customs, shoes.detention_id) == "released"

    await wait_until(shoes_released, what="the unconfirmed goods to be released")
    await asyncio.sleep(1.0)  # several more rounds of the watcher
    assert await _status(customs, confirmed.detention_id) == "detained"
    assert await _releases(bus) == 2
    with pytest.raises(StepRefused, match="already released"):
        async with customs.unit_of_work() as uow:
            await customs.record_confirmation(uow, fish.detention_id)
