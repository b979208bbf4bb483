"""The first full flow over real JetStream, and the wire it leaves behind.

A raw nats-py subscriber listens on ``ipbus.>`` while the demo scenario runs; every
message it sees must obey DESIGN §3–§4, read by the official CloudEvents SDK and checked
against the effective registry written to the data directory.
"""

import asyncio
import json
from typing import Any

import nats
import pytest
from cloudevents.core.formats.json import JSONFormat
from nats.aio.msg import Msg

from contracts.agencies import parse_registry
from contracts.envelope import CONTENT_TYPE, TRACEPARENT_PATTERN, decode_event
from contracts.identifiers import is_ulid
from contracts.subjects import parse_event_subject
from services.cli.demo import run_demo
from services.runtime.identity import verify_event
from services.sdk import Bus

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
async def test_the_demo_scenario_holds_and_every_message_obeys_the_wire_contract(
    demo_bus: Bus,
) -> None:
    bus = demo_bus
    seen: list[Msg] = []
    nc = await nats.connect(bus.nats_url)

    async def record(msg: Msg) -> None:
        seen.append(msg)

    subscription = await nc.subscribe("ipbus.v1.>", cb=record)
    try:
        lines: list[str] = []
        await run_demo(bus, lines.append)
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await subscription.unsubscribe()
        await nc.close()

    assert any("All expectations hold" in line for line in lines)
    registry = parse_registry(bus.settings.effective_registry_path.read_text())
    events = [m for m in seen if m.data != b"this is not a CloudEvent"]
    assert len(events) >= 12
    for msg in events:
        headers = msg.headers or {}
        assert headers["Content-Type"] == CONTENT_TYPE
        body = json.loads(msg.data)
        assert headers["Nats-Msg-Id"] == body["id"]
        assert is_ulid(body["id"])
        route = parse_event_subject(msg.subject)
        assert body["source"] == f"/agencies/{route.sender}"
        assert body["type"] == f"ipbus.{route.event_type}.v1"
        cloud_event = JSONFormat().read(None, msg.data)
        assert cloud_event.get_id() == body["id"]
        assert cloud_event.get_specversion() == "1.0"
        event = decode_event(msg.data, msg.subject)
        sender = registry.get(route.sender)
        assert sender.public_key is not None
        verify_event(event, [sender.public_key])
        assert TRACEPARENT_PATTERN.match(body.get("traceparent", "")), body  # DESIGN §4
    # an event emitted in reaction to another continues the trace of its cause
    trace_of = {body["id"]: body["traceparent"].split("-")[1] for body in map(_body, events)}
    reactions = [b for b in map(_body, events) if b.get("causationid") in trace_of]
    assert reactions
    for body in reactions:
        assert body["traceparent"].split("-")[1] == trace_of[body["causationid"]], body["type"]


def _body(msg: Msg) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(msg.data)
    return body
