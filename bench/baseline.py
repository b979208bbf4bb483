"""The transport's limit: raw nats-py JetStream publish (many in flight) + durable pull + ack."""

import asyncio
import time

import nats
from nats.js.api import AckPolicy, ConsumerConfig, PubAck, StorageType, StreamConfig

from bench.workload import Workload

__all__ = ["IN_FLIGHT", "run_baseline"]

IN_FLIGHT = 256
FETCH_BATCH = 500
STREAM = "BENCH_BASELINE"


async def publish_all(
    js: nats.js.JetStreamContext,
    subjects: tuple[str, ...],
    bodies: tuple[bytes, ...],
    ids: tuple[str, ...],
) -> None:
    """Publish with up to ``IN_FLIGHT`` unacknowledged publishes, as a fast producer would
    (nats.py's ``publish_async``; each PubAck is checked)."""
    window: list[asyncio.Future[PubAck]] = []
    for subject, body, msg_id in zip(subjects, bodies, ids, strict=True):
        window.append(await js.publish_async(subject, body, headers={"Nats-Msg-Id": msg_id}))
        if len(window) >= IN_FLIGHT:
            for ack in window:
                await ack
            window.clear()
    for ack in window:
        await ack


async def run_baseline(nats_url: str, workload: Workload) -> float:
    """Events per second from the first publish to the last ack, no processing."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name=STREAM, subjects=["bench.>"], storage=StorageType.FILE)
        )
        await js.add_consumer(
            STREAM,
            ConsumerConfig(
                durable_name="baseline", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000
            ),
        )
        subscription = await js.pull_subscribe_bind("baseline", STREAM)
        # the same subjects as ipbus's, under the baseline's own stream
        subjects = tuple(s.replace("ipbus.", "bench.", 1) for s in workload.subjects)
        started = time.perf_counter()
        producer = asyncio.create_task(publish_all(js, subjects, workload.bodies, workload.ids))
        received = 0
        while received < len(workload.bodies):
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=5)
            except TimeoutError:
                if producer.done():
                    producer.result()
                continue
            for message in messages:
                await message.ack()
            received += len(messages)
        elapsed = time.perf_counter() - started
        await producer
        await js.delete_stream(STREAM)
        return received / elapsed
    finally:
        await nc.close()
