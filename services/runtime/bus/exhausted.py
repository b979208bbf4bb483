"""Messages JetStream gave up on: delivered ``max_deliver`` times, never acknowledged.

JetStream stops delivering such a message and says so only in an advisory,
``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>``; the message itself
stays in the stream. Left alone it would vanish from its consumer without a trace. The
coordinator, the one identity that may read any stored message and write any dead letter,
listens for every consumer of ``IPBUS`` and puts each such message on ``IPBUS_DLQ``
(reason ``max_deliveries``, message id ``<consumer>:<stream seq>`` like every letter, so a
second replica hearing the same advisory writes nothing new). Agencies need no new rights.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.envelope import EnvelopeRejected, parse_json

__all__ = ["MAX_DELIVERIES_ADVISORY", "Exhausted", "exhausted_message", "parse_advisory"]

MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
"""Followed by ``.<stream>.<consumer>``."""


@dataclass(frozen=True, slots=True)
class Exhausted:
    """What the advisory says: which consumer gave up on which stored message."""

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


def parse_advisory(data: bytes) -> Exhausted | None:
    """The advisory's facts, or ``None`` if it is not one (never raises)."""
    try:
        body = parse_json(data)
    except EnvelopeRejected:
        return None
    if not isinstance(body, dict):
        return None
    stream, consumer = body.get("stream"), body.get("consumer")
    seq, deliveries = body.get("stream_seq"), body.get("deliveries")
    if not (isinstance(stream, str) and isinstance(consumer, str) and isinstance(seq, int)):
        return None
    return Exhausted(stream, consumer, seq, deliveries if isinstance(deliveries, int) else 0)


async def exhausted_message(nc: Client, js: JetStreamContext, advisory: Exhausted) -> Msg | None:
    """The stored message as its consumer last saw it, or ``None`` if it is gone.

    Its ``reply`` is the JetStream ack subject of that delivery, so ``msg.metadata`` (stream
    sequence, consumer, deliveries) reads as for any delivered message; it is never acked.
    """
    try:
        stored = await js.get_msg(advisory.stream, advisory.stream_seq)
    except NotFoundError:
        return None
    stamp = stored.time if isinstance(stored.time, datetime) else datetime.now(UTC)
    nanos = int(stamp.timestamp() * 1e9)
    reply = (
        f"$JS.ACK.{advisory.stream}.{advisory.consumer}.{advisory.deliveries}."
        f"{advisory.stream_seq}.0.{nanos}.0"
    )
    return Msg(
        _client=nc,
        subject=stored.subject or "",
        reply=reply,
        data=stored.data or b"",
        headers=dict(stored.headers or {}),
    )
