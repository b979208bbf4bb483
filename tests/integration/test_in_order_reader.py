"""The in-order consumer read by one process: its own acks are not another replica's turn.

Found by the latency bench (2026-12-01): a lone coordinator asked the consumer's ack floor
before every batch, and the server had not always counted the acks it had just sent, so
the batch looked held behind "messages another replica holds"; the coordinator stepped
back from its own partition and nobody read it for 3 s (p99 of seconds at 500 events/s).
A reader that settled every delivery it was given now goes on with the next deliveries
without asking; what it left unsettled (a nak) still sends it to the ack floor.
"""

import asyncio
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


class Reader:
    """One process reading the in-order consumer: it acknowledges every message and keeps
    the stream order it applied them in, its batches and the contention it reported."""

    def __init__(self, js: JetStreamContext, *, reports_settled: bool = True) -> None:
        self.applied: list[int] = []
        self.batches = 0
        self.contended: list[int] = []
        self._reports_settled = reports_settled
        self.consumer = EventConsumer(
            lambda: js,
            stream=EVENT_STREAM,
            durable="in-order",
            deliver=self.deliver,
            log=structlog.get_logger(),
            wait_s=0.2,
            in_stream_order=True,
            turn=self.turn,
        )

    async def deliver(self, messages: list[Msg]) -> bool:
        self.batches += 1
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
    fresh_streams: str,
) -> None:
    nc = await nats.connect(fresh_streams)
    consumer: EventConsumer | None = None
    try:
        js = nc.jetstream()
        await _in_order_consumer(js)
        counting = CountingJetStream(js)
        reader = Reader(counting)  # type: ignore[arg-type]
        consumer = reader.consumer
        await consumer.start()
        published: list[int] = []
        for burst in range(60):  # bursts while it reads: many small batches, acks in flight
            for _ in range(25):
                ack = await js.publish(SUBJECT.format(key=new_ulid()), b"%d" % burst)
                published.append(int(ack.seq))
            await asyncio.sleep(0.005)

        await reader.caught_up(published)
        assert reader.applied == published  # stream order, each once
        assert sum(reader.contended) == 0, "a lone reader thought another replica held its turn"
        assert reader.batches > 10  # the bursts were read as many batches, not one
        # the first batch looks at the floor; those after it follow their own settled ones
        assert counting.floor_looks <= 3, f"{counting.floor_looks} looks, {reader.batches} batches"
    finally:
        if consumer is not None:
            await consumer.stop(5)
        await nc.close()


@pytest.mark.timeout(90)
async def test_a_reader_that_left_a_message_unsettled_waits_for_it_again(
    fresh_streams: str,
) -> None:
    nc = await nats.connect(fresh_streams)
    consumer: EventConsumer | None = None
    try:
        js = nc.jetstream()
        await _in_order_consumer(js)
        first = [
            int((await js.publish(SUBJECT.format(key=new_ulid()), b"x")).seq) for _ in range(5)
        ]
        applied: list[int] = []
        naked = False

        async def deliver(messages: list[Msg]) -> bool:
            nonlocal naked
            if not naked:  # the first batch: a passing fault, every message redelivered later
                naked = True
                for message in messages:
                    await message.nak(delay=1.0)
                return False
            for message in messages:
                applied.append(message.metadata.sequence.stream)
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
            hold_s=3.0,
        )
        await consumer.start()

        async def first_refused() -> bool:
            return naked

        await wait_until(first_refused, timeout_s=20, what="the first batch nak'd")
        # delivered next, right after the nak'd ones: in delivery order, not in turn
        later = [
            int((await js.publish(SUBJECT.format(key=new_ulid()), b"y")).seq) for _ in range(5)
        ]

        async def all_applied() -> bool:
            return len(applied) >= 10

        await wait_until(all_applied, timeout_s=30, what="the nak'd batch and the one after it")
        assert applied == first + later
    finally:
        if consumer is not None:
            await consumer.stop(5)
        await nc.close()


@pytest.mark.timeout(90)
async def test_an_ack_floor_behind_the_readers_own_acks_is_not_another_replica(
    fresh_streams: str,
) -> None:
    nc = await nats.connect(fresh_streams)
    consumer: EventConsumer | None = None
    try:
        js = nc.jetstream()
        await _in_order_consumer(js)
        lagging = LaggingJetStream(js)
        # reports every batch unsettled, as if one were to be redelivered: each batch looks
        # at the floor
        reader = Reader(lagging, reports_settled=False)  # type: ignore[arg-type]
        consumer = reader.consumer
        await consumer.start()
        published: list[int] = []
        for _ in range(20):  # one batch at a time, each behind the last one's acks
            ack = await js.publish(SUBJECT.format(key=new_ulid()), b"x")
            published.append(int(ack.seq))

            await reader.caught_up(published)
        assert reader.applied == published
        assert lagging.floor_looks > 20  # it looked again while its own acks were not counted
        assert sum(reader.contended) == 0, "its own acks were taken for another replica's"
    finally:
        if consumer is not None:
            await consumer.stop(5)
        await nc.close()
