"""A batch of events is one INFO line that names every event; each event's own line is DEBUG."""

import json

import pytest
from structlog.testing import capture_logs

from contracts.identifiers import new_ulid
from services.runtime.identity import Settings
from tests.integration.conftest import StartBus
from tests.integration.test_freshness_on_a_test_clock import (
    CUSTOMS,
    _in_timeline,
    _made_at,
    _to_coordinator,
)
from tests.integration.wire import publish, wait_until

pytestmark = pytest.mark.integration

EVENTS = 12


async def test_a_fetched_batch_is_logged_once_at_info_with_every_event_id(
    settings: Settings, start_bus: StartBus
) -> None:
    bus = await start_bus(settings, ["coordinator"])
    await bus.services["coordinator"].stop()  # the events wait, then come in one fetch
    clock = bus.services["coordinator"].clock
    bodies = [_made_at(settings, clock.now()) for _ in range(EVENTS)]
    ids = [json.loads(body)["id"] for body in bodies]
    nc = await bus.connect(CUSTOMS, name="sender")
    try:
        for body in bodies:
            await publish(nc, _to_coordinator(body), body, msg_id=new_ulid())
    finally:
        await nc.close()
    with capture_logs() as logged:
        await bus.start_service("coordinator")

        async def all_applied() -> bool:
            # each case is its own partition key: the partitions apply in parallel, so the
            # last one published is not necessarily the last one applied
            return all([await _in_timeline(bus, i) for i in ids])

        await wait_until(all_applied, what="every event applied")

    applied = [line for line in logged if line["event"] == "applied"]
    info = [line for line in applied if line["log_level"] == "info"]
    debug = [line for line in applied if line["log_level"] == "debug"]
    named = [i for line in info for i in line.get("event_ids", [line.get("event_id")])]
    assert sorted(named) == sorted(ids)  # every event named once at INFO
    assert len(info) < EVENTS  # fewer lines than events: at least one batch of several
    batch = next(line for line in info if "event_ids" in line)
    assert batch["events"] == len(batch["event_ids"]) > 1
    assert len(batch["case_ids"]) == len(batch["event_ids"])  # each opened its own case
    assert sorted(line["event_id"] for line in debug) == sorted(ids)
