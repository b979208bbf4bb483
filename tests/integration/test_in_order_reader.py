"""The in-order consumer read by one process: its own acks are not another replica's turn.

Found by the latency bench (2026-12-01): a lone coordinator asked the consumer's ack floor
before every batch, and the server had not always counted the acks it had just sent, so
the batch looked held behind "messages another replica holds"; the coordinator stepped
back from its own partition and nobody read it for 3 s (p99 of seconds at 500 events/s).
A reader that settled every delivery it was given now goes on with the next deliveries
without asking; what it left unsettled (a nak) still sends it to the ack floor.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import nats
import pytest
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo

from contracts.identifiers import new_ulid
from contracts.subjects import EVENT_STREAM
from services.runtime.bus import EventConsumer
from tests.integration.wire import wait_until

SUBJECT = "ipbus.v1.a.b.{key}.c.d"  # a shape IPBUS stores


class CountingJetStream:
    """The JetStream context, counting the looks at a consumer's ack floor."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.floor_looks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def consumer_info(self, *args: Any, **kwargs: Any) -> Any:
        self.floor_looks += 1
        return await self._js.consumer_info(*args, **kwargs)


class LaggingJetStream(CountingJetStream):
    """Answers each look at the ack floor as a loaded server may: every delivery counted,
    but not the acks that came in since the look before (they are still queued)."""

    def __init__(self, js: JetStreamContext) -> None:
        super().__init__(js)
        self._previous: ConsumerInfo | None = None

    async def consumer_info(self, *args: Any, **kwargs: Any) -> Any:
        fresh: ConsumerInfo = await super().consumer_info(*args, **kwargs)
        before, self._previous = self._previous, fresh
        if before is None or before.ack_floor is None or fresh.ack_floor is None:
            return fresh
        not_counted = (fresh.ack_floor.consumer_seq or 0) - (before.ack_floor.consumer_seq or 0)
        return replace(
            fresh,
            ack_floor=before.ack_floor,
            num_ack_pending=(fresh.num_ack_pending or 0) + not_counted,
        )


async def _in_order_consumer(js: JetStreamContext) -> None:
    await js.add_consumer(
        EVENT_STREAM,
        ConsumerConfig(
            durable_name="in-order",
            filter_subject="ipbus.v1.>",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=10.0,
            backoff=[0.3, 0.3, 0.3],
            max_deliver=5,
        ),
    )


@pytest.fixture
async def js(fresh_streams: str) -> AsyncIterator[JetStreamContext]:
    """JetStream on fresh streams, with the in-order consumer ``in-order`` on IPBUS."""
    nc = await nats.connect(fresh_streams)
    try:
        js = nc.jetstream()
        await _in_order_consumer(js)
        yield js
    finally:
        await nc.close()


async def _publish(js: JetStreamContext, count: int) -> list[int]:
    """``count`` messages of as many cases; their stream sequences."""
    return [int((await js.publish(SUBJECT.format(key=new_ulid()), b"x")).seq) for _ in range(count)]


class Reader:
    """One process reading the in-order consumer (while in ``async with``): it acknowledges
    every message and keeps the stream order it applied them in, its batches and the
    contention it reported. ``nak_first_batch``: the first batch meets a passing fault,
    every message of it nak'd for redelivery."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        reports_settled: bool = True,
        nak_first_batch: bool = False,
        hold_s: float = 6.0,
    ) -> None:
        self.applied: list[int] = []
        self.batches = 0
        self.contended: list[int] = []
        self.naked = False
        self._reports_settled = reports_settled
        self._nak_first_batch = nak_first_batch
        self.consumer = EventConsumer(
            lambda: js,
            stream=EVENT_STREAM,
            durable="in-order",
            deliver=self.deliver,
            log=structlog.get_logger(),
            wait_s=0.2,
            in_stream_order=True,
            hold_s=hold_s,
            turn=self.turn,
        )

    async def __aenter__(self) -> "Reader":
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop(5)

    async def deliver(self, messages: list[Msg]) -> bool:
        self.batches += 1
        if self._nak_first_batch and not self.naked:
            self.naked = True
            for message in messages:
                await message.nak(delay=1.0)
            return False
        for message in messages:
            self.applied.append(message.metadata.sequence.stream)
            await message.ack()
        return self._reports_settled

    async def turn(self, waited: int) -> bool:
        self.contended.append(waited)
        return True

    async def caught_up(self, published: list[int]) -> None:
        async def all_applied() -> bool:
            return len(self.applied) >= len(published)

        await wait_until(all_applied, timeout_s=60, what="every message applied")


@pytest.mark.timeout(90)
async def test_a_lone_reader_never_takes_its_own_acks_for_another_replicas_messages(
    js: JetStreamContext,
) -> None:
    counting = CountingJetStream(js)
    async with Reader(counting) as reader:  # type: ignore[arg-type]
        published: list[int] = []
        for _ in range(60):  # bursts while it reads: many small batches, acks in flight
            published += await _publish(js, 25)
            await asyncio.sleep(0.005)
        await reader.caught_up(published)

    assert reader.applied == published  # stream order, each once
    assert sum(reader.contended) == 0, "a lone reader thought another replica held its turn"
    assert reader.batches > 10  # the bursts were read as many batches, not one
    # the first batch looks at the floor; those after it follow their own settled ones
    assert counting.floor_looks <= 3, f"{counting.floor_looks} looks, {reader.batches} batches"


@pytest.mark.timeout(90)
async def test_a_reader_that_left_a_message_unsettled_waits_for_it_again(
    js: JetStreamContext,
) -> None:
    first = await _publish(js, 5)
    async with Reader(js, nak_first_batch=True, hold_s=3.0) as reader:

        async def first_refused() -> bool:
            return reader.naked

        await wait_until(first_refused, timeout_s=20, what="the first batch nak'd")
        # delivered next, right after the nak'd ones: in delivery order, not in turn
        later = await _publish(js, 5)
        await reader.caught_up(first + later)

    assert reader.applied == first + later


@pytest.mark.timeout(90)
async def test_an_ack_floor_behind_the_readers_own_acks_is_not_another_replica(
    js: JetStreamContext,
) -> None:
    lagging = LaggingJetStream(js)
    # reports every batch unsettled, as if one were to be redelivered: each batch looks at
    # the floor
    async with Reader(lagging, reports_settled=False) as reader:  # type: ignore[arg-type]
        published: list[int] = []
        for _ in range(20):  # one batch at a time, each behind the last one's acks
            published += await _publish(js, 1)
            await reader.caught_up(published)

    assert reader.applied == published
    assert lagging.floor_looks > 20  # it looked again while its own acks were not counted
    assert sum(reader.contended) == 0, "its own acks were taken for another replica's"
