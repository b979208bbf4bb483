"""A message no consumer could finish is dead-lettered, never dropped, and holds nothing back.

* JetStream gives up on a message after ``max_deliver`` deliveries and says so only in an
  advisory; the coordinator turns that advisory into a dead letter (``max_deliveries``).
* The in-order consumer does not wait for a predecessor that will never be delivered
  again (nats-server keeps the ack floor behind it until a later ack).
* An event whose handler fails on every delivery is dead-lettered on its last one
  (``handler_error``); the events of its batch are applied, each once.
"""

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats
import pytest
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RawStreamMsg
from sqlmodel import col, select

from contracts.cases import CaseOpened
from contracts.envelope import RejectReason, encode_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import DLQ_STREAM, EVENT_STREAM, parse_event_subject
from services.coordinator import app as coordinator_app
from services.coordinator.cases.store import CaseFiles, TimelineRecord
from services.coordinator.pipeline import CasePipeline, Folded
from services.runtime.bus import (
    DLQ_CONSUMER_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_ORIGINAL_SEQ_HEADER,
    DLQ_ORIGINAL_SUBJECT_HEADER,
    DLQ_REASON_HEADER,
    EventConsumer,
    agency_consumer_spec,
    coordinator_consumer_spec,
    ensure_consumer,
)
from services.runtime.identity import Settings
from services.sdk import Bus
from services.sdk import service as adapter
from tests.conftest import REGISTRY
from tests.integration.conftest import StartBus
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import (
    coordinator_pending,
    dead_letters,
    publish,
    signed,
    wait_until,
)

pytestmark = pytest.mark.integration

SENDER = "customs-shanghai"


@pytest.mark.timeout(60)
async def test_a_message_a_consumer_gave_up_on_is_dead_lettered_by_the_coordinator(
    bus: Bus,
) -> None:
    nc = await nats.connect(bus.nats_url)
    try:
        js = nc.jetstream()
        await js.add_consumer(
            EVENT_STREAM,
            ConsumerConfig(
                durable_name="agency-probe",
                filter_subject="ipbus.v1.*.probe.>",
                ack_policy=AckPolicy.EXPLICIT,
                max_deliver=2,
                ack_wait=1.0,
                backoff=[0.3, 0.3],
            ),
        )
        envelope = signed(bus.settings, SENDER, _opened(), case_id=new_ulid())
        body = encode_envelope(envelope)
        ack = await js.publish(publish_subject(envelope, "probe"), body)
        probe = await js.pull_subscribe_bind(durable="agency-probe", stream=EVENT_STREAM)
        for _ in range(2):  # delivered twice, never acknowledged: a consumer that crashes
            (msg,) = await probe.fetch(1, timeout=5)
            assert msg.metadata.sequence.stream == ack.seq
        stored = msg.subject  # ipbus.v1.customs-shanghai.probe.<partition>.<case>.case.opened
        # JetStream notices the exhausted message when the consumer (restarted) asks again
        with pytest.raises(TimeoutError):
            await probe.fetch(1, timeout=2)

        async def probes() -> list[RawStreamMsg]:
            if (await js.stream_info(DLQ_STREAM)).state.messages == 0:
                return []
            return [
                letter
                for letter in await dead_letters(nc, at_least=0)
                if (letter.headers or {}).get(DLQ_CONSUMER_HEADER) == "agency-probe"
            ]

        async def lettered() -> bool:
            return bool(await probes())

        await wait_until(lettered, timeout_s=20, what="the exhausted message's dead letter")
        (letter,) = await probes()
        headers = letter.headers or {}
        assert headers[DLQ_REASON_HEADER] == RejectReason.MAX_DELIVERIES.value
        assert headers[DLQ_ORIGINAL_SEQ_HEADER] == str(ack.seq)
        assert headers[DLQ_ORIGINAL_SUBJECT_HEADER] == stored
        route = parse_event_subject(stored)
        assert (route.sender, route.recipient, route.key, route.event_type) == (
            SENDER,
            "probe",
            envelope.subject,
            "case.opened",
        )
        assert route.partition is not None
        assert "2 deliveries" in headers[DLQ_DETAIL_HEADER]
        assert letter.data == body
    finally:
        await nc.close()


@pytest.mark.timeout(60)
async def test_the_in_order_consumer_goes_on_past_a_message_that_will_not_come_back(
    fresh_streams: str,
) -> None:
    nc = await nats.connect(fresh_streams)
    consumer: EventConsumer | None = None
    try:
        js = nc.jetstream()
        await js.add_consumer(
            EVENT_STREAM,
            ConsumerConfig(
                durable_name="in-order",
                filter_subject="ipbus.v1.>",
                ack_policy=AckPolicy.EXPLICIT,
                max_deliver=2,
                ack_wait=1.0,
                backoff=[0.3, 0.3],
            ),
        )
        subject = f"ipbus.v1.a.b.{new_ulid()}.c.d"  # a shape IPBUS stores; no event in it
        lost = int((await js.publish(subject, b"lost")).seq)
        replica = await js.pull_subscribe_bind(durable="in-order", stream=EVENT_STREAM)
        for _ in range(2):  # a replica that dies holding it, on each of its deliveries
            (msg,) = await replica.fetch(1, timeout=5)
            assert msg.metadata.sequence.stream == lost
        await replica.unsubscribe()
        seqs = [int((await js.publish(subject, b"%d" % i)).seq) for i in range(3)]
        applied: list[int] = []
        went_on_at: list[float] = []

        async def deliver(messages: list[Msg]) -> bool:
            for message in messages:
                applied.append(message.metadata.sequence.stream)
                went_on_at.append(time.monotonic())
                await message.ack()
            return True

        consumer = EventConsumer(
            lambda: js,
            stream=EVENT_STREAM,
            durable="in-order",
            deliver=deliver,
            log=structlog.get_logger(),
            wait_s=0.2,
            in_stream_order=True,
            hold_s=1.3,
        )
        started = time.monotonic()
        await consumer.start()

        async def all_applied() -> bool:
            return applied == seqs

        await wait_until(all_applied, timeout_s=30, what="the events after the lost one")
        info = await js.consumer_info(EVENT_STREAM, "in-order")
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
        print(f"\nheld behind a lost message for {went_on_at[0] - started:.2f}s")
    finally:
        if consumer is not None:
            await consumer.stop(5)
        await nc.close()


@pytest.mark.timeout(90)
async def test_an_event_whose_handler_always_fails_is_dead_lettered_and_its_batch_applied_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, start_bus: StartBus
) -> None:
    # three deliveries, retried 0.2 s apart: the events behind it, handed back each 1.5 s
    # while it is retried, keep deliveries to spare (as 20 × 2 s does against 20 × 6 s)
    quick = replace(coordinator_consumer_spec(), max_deliver=3, backoff_s=(0.5, 0.5, 0.5))
    monkeypatch.setattr(coordinator_app, "coordinator_consumer_spec", lambda: quick)
    monkeypatch.setattr(adapter, "RETRY_DELAY_S", 0.2)
    original = CasePipeline.fold

    async def buggy(self: CasePipeline, cases: CaseFiles, event: Any) -> Folded | None:
        if isinstance(event.payload, CaseOpened) and event.payload.title == "boom":
            raise RuntimeError("a bug in a handler")
        return await original(self, cases, event)

    monkeypatch.setattr(CasePipeline, "fold", buggy)
    bus = await start_bus(settings, ("coordinator", SENDER))
    nc = await nats.connect(bus.nats_url)
    try:
        titles = ["first", "boom", "second", "third"]
        envelopes = [
            signed(settings, SENDER, _opened(title), case_id=new_ulid()) for title in titles
        ]
        for envelope in envelopes:  # in one publish burst: most likely one fetched batch
            await publish(nc, publish_subject(envelope, "coordinator"), envelope)

        (letter,) = await dead_letters(nc, at_least=1, timeout_s=30)
        headers = letter.headers or {}
        assert headers[DLQ_REASON_HEADER] == RejectReason.HANDLER_ERROR.value
        assert "a bug in a handler" in headers[DLQ_DETAIL_HEADER]
        assert letter.data == encode_envelope(envelopes[1])

        async def drained() -> bool:  # every partition's consumer
            return await coordinator_pending(nc.jetstream()) == (0, 0)

        await wait_until(drained, timeout_s=20, what="the coordinator to drain")
        async with bus.services["coordinator"].database.transaction() as session:
            timeline = (await session.exec(select(col(TimelineRecord.event_id)))).all()
        honest = {envelopes[i].id for i in (0, 2, 3)}
        assert sorted(e for e in timeline if e in honest | {envelopes[1].id}) == sorted(honest)
        await asyncio.sleep(1.0)  # nothing more arrives: the letter is not written twice
        assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 1
    finally:
        await nc.close()


@pytest.mark.timeout(90)
async def test_on_the_secured_server_the_coordinator_dead_letters_what_an_agency_never_acked(
    tmp_path: Path, start_bus: StartBus
) -> None:
    """Default settings: nkeys and per-agency permissions. Customs declares its own
    consumer with two deliveries (its right), reads a message twice and never acks it."""
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "var", "registry_path": REGISTRY, "outbox_poll_seconds": 0.2}
    )
    assert settings.nkey_auth
    bus = await start_bus(settings, ("coordinator", "amr-shanghai"))
    customs = await bus.connect(SENDER, name="test-customs")
    regulator = await bus.connect("amr-shanghai", name="test-regulator")
    operator = await bus.connect("coordinator", name="test-reader")
    try:
        spec = replace(agency_consumer_spec(SENDER), max_deliver=2, backoff_s=(0.3, 0.3))
        await ensure_consumer(customs.jetstream(), spec)
        envelope = signed(settings, "amr-shanghai", _opened(), case_id=new_ulid())
        body = encode_envelope(envelope)
        ack = await regulator.jetstream().publish(publish_subject(envelope, SENDER), body)
        inbox = await customs.jetstream().pull_subscribe_bind(
            durable=spec.durable, stream=EVENT_STREAM
        )
        for _ in range(2):
            (msg,) = await inbox.fetch(1, timeout=5)
            assert msg.metadata.sequence.stream == ack.seq
        with pytest.raises(TimeoutError):
            await inbox.fetch(1, timeout=2)

        async def lettered() -> bool:
            info = await operator.jetstream().stream_info(DLQ_STREAM)
            return (
                any(
                    (letter.headers or {}).get(DLQ_CONSUMER_HEADER) == spec.durable
                    for letter in await dead_letters(operator, at_least=info.state.messages)
                )
                if info.state.messages
                else False
            )

        await wait_until(lettered, timeout_s=20, what="customs' exhausted message as a letter")
        (letter,) = [
            letter
            for letter in await dead_letters(operator, at_least=1)
            if (letter.headers or {}).get(DLQ_CONSUMER_HEADER) == spec.durable
        ]
        assert (letter.headers or {})[DLQ_REASON_HEADER] == RejectReason.MAX_DELIVERIES.value
        assert letter.data == body
    finally:
        for client in (customs, regulator, operator):
            await client.close()
