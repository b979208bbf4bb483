"""Dead letters: a refused message, its reason, and everything needed to replay it.

The original body and headers are kept as they were; the reason travels in
``Ipbus-Dlq-*`` headers. The message id is (consumer, stream sequence), so a redelivered
poison message is dead-lettered once per consumer, not once per delivery.
"""

from datetime import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.envelope import RejectReason
from contracts.subjects import DLQ_STREAM, dlq_subject

__all__ = ["DLQ_HEADERS", "REPLAY_FOR_HEADER", "REPLAY_OF_HEADER", "dead_letter"]

REPLAY_FOR_HEADER = "Ipbus-Replay-For"
"""On a replayed message: the one consumer meant to take it (``ipbus dlq replay``)."""
REPLAY_OF_HEADER = "Ipbus-Replay-Of"
"""On a replayed message: the ``IPBUS_DLQ`` sequence it was replayed from."""

DLQ_HEADERS = (
    "Ipbus-Dlq-Reason",
    "Ipbus-Dlq-Detail",
    "Ipbus-Dlq-Consumer",
    "Ipbus-Dlq-Original-Subject",
    "Ipbus-Dlq-Original-Seq",
    "Ipbus-Dlq-Time",
)


async def dead_letter(
    js: JetStreamContext,
    msg: Msg,
    *,
    consumer: str,
    reason: RejectReason,
    detail: str,
    now: datetime,
) -> None:
    """Store ``msg`` on ``IPBUS_DLQ`` with why it was refused (the caller then acks it)."""
    stream_seq = msg.metadata.sequence.stream if msg.reply else 0
    headers = {
        key: value
        for key, value in (msg.headers or {}).items()
        # the server's own headers stay behind: JetStream refuses a publish carrying e.g.
        # Nats-Stream-Source, which every event sourced to a leaf-node site has
        if not key.startswith(("Ipbus-Dlq-", "Nats-"))
    }
    headers.update(
        {
            "Nats-Msg-Id": f"{consumer}:{stream_seq}"
            if stream_seq
            else f"{consumer}:{now.isoformat()}",
            "Ipbus-Dlq-Reason": reason.value,
            "Ipbus-Dlq-Detail": detail[:1000].replace("\r", " ").replace("\n", " "),
            "Ipbus-Dlq-Consumer": consumer,
            "Ipbus-Dlq-Original-Subject": msg.subject,
            "Ipbus-Dlq-Original-Seq": str(stream_seq),
            "Ipbus-Dlq-Time": now.isoformat(),
        }
    )
    await js.publish(
        dlq_subject(consumer, reason.value), msg.data, stream=DLQ_STREAM, headers=headers
    )
