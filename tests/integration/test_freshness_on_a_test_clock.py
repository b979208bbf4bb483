"""A bus on a simulated clock still refuses stale events: the freshness check runs on the
injected clock (services.runtime.bus.freshness.stored_on_clock) instead of being switched off."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from contracts.envelope import (
    Envelope,
    RejectReason,
    encode_envelope,
    new_envelope,
    publish_subject,
)
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, DLQ_STREAM
from services.coordinator.cases.store import TimelineRecord
from services.runtime.bus import DLQ_REASON_HEADER, FixedClock
from services.runtime.identity import AgencyKey, Settings, key_path, sign_envelope
from services.sdk import Bus
from tests.integration.conftest import StartBus
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import dead_letters, publish, wait_until

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # months before the wall clock


def _made_at(settings: Settings, when: datetime) -> bytes:
    envelope = new_envelope(sender=CUSTOMS, payload=_opened(), now=when, case_id=new_ulid())
    key = AgencyKey(key_path(settings.keys_dir, CUSTOMS).read_bytes())
    return encode_envelope(sign_envelope(envelope, key))


def _to_coordinator(body: bytes) -> str:
    """The subject a customs office publishes ``body`` on, keyed on the case it opens."""
    return publish_subject(Envelope.model_validate_json(body), COORDINATOR)


async def _in_timeline(bus: Bus, event_id: str) -> bool:
    async with bus.services["coordinator"].database.transaction() as session:
        found = await session.exec(
            select(col(TimelineRecord.event_id)).where(col(TimelineRecord.event_id) == event_id)
        )
        return found.first() is not None


async def test_an_event_stale_on_the_injected_clock_is_refused_as_replayed(
    settings: Settings, start_bus: StartBus
) -> None:
    clock = FixedClock(START)
    bus = await start_bus(settings, ["coordinator"], clock=clock)
    fresh = _made_at(settings, clock.now())
    stale = _made_at(settings, clock.now() - timedelta(days=30))
    wall = _made_at(settings, datetime.now(UTC))  # months ahead of the bus's clock
    nc = await bus.connect(CUSTOMS, name="sender")
    try:
        for body in (stale, wall, fresh):
            await publish(nc, _to_coordinator(body), body, msg_id=new_ulid())
        letters = await dead_letters(nc, at_least=2)
        fresh_id = json.loads(fresh)["id"]
        await wait_until(
            lambda: _in_timeline(bus, fresh_id), what="the fresh event in the timeline"
        )
    finally:
        await nc.close()
    reasons = [(m.headers or {}).get(DLQ_REASON_HEADER) for m in letters]
    assert reasons == [RejectReason.REPLAYED.value, RejectReason.REPLAYED.value]


async def test_an_event_waiting_while_the_clock_moves_on_is_applied_not_refused(
    settings: Settings, start_bus: StartBus
) -> None:
    """Stored fresh, read four business days later (the coordinator was down while a test
    moved the clock): judged as of when it was stored. It was once dead-lettered as
    ``replayed``, which made a receipt look missing and its deadline overdue."""
    clock = FixedClock(START)
    bus = await start_bus(settings, ["coordinator"], clock=clock)
    await bus.services["coordinator"].stop()
    body = _made_at(settings, clock.now())
    nc = await bus.connect(CUSTOMS, name="sender")
    try:
        await publish(nc, _to_coordinator(body), body, msg_id=new_ulid())
        clock.advance(timedelta(days=4))
        await bus.start_service("coordinator")
        event_id = json.loads(body)["id"]
        await wait_until(lambda: _in_timeline(bus, event_id), what="the event in the timeline")
        assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    finally:
        await nc.close()
