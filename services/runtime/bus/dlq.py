"""Dead letters: a refused message, its reason, and everything needed to replay it.

The original body and headers are kept as they were; the reason travels in
``Ipbus-Dlq-*`` headers. The message id is (consumer, stream sequence), so a redelivered
poison message is dead-lettered once per consumer, not once per delivery.

A replay (``ipbus dlq replay``, :mod:`services.runtime.bus.dead_letters`) is published on
``ipbus.v1.operator.<recipient>.<event-type>``: a subject only the operator's identity may
publish to (the server enforces it, :mod:`services.runtime.server.nats_config`), which the same
consumers read as the original subject. Only there are the ``Ipbus-Replay-*`` headers
believed; on ordinary traffic they are ignored and the event is processed as any other
(DESIGN §4a: nothing outside the signed body steers processing unless the server
guarantees who set it).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.envelope import RejectReason
from contracts.subjects import DLQ_STREAM, EVENT_PREFIX, dlq_subject, parse_event_subject
from services.runtime.privacy.redaction import redact_text
from services.runtime.server.nats_config import OPERATOR

__all__ = [
    "DLQ_CONSUMER_HEADER",
    "DLQ_DETAIL_HEADER",
    "DLQ_DETAIL_MAX",
    "DLQ_HEADERS",
    "DLQ_HEADER_PREFIX",
    "DLQ_ORIGINAL_SEQ_HEADER",
    "DLQ_ORIGINAL_SUBJECT_HEADER",
    "DLQ_REASON_HEADER",
    "DLQ_TIME_HEADER",
    "REPLAY_FOR_HEADER",
    "REPLAY_HEADER_PREFIX",
    "REPLAY_OF_HEADER",
    "REPLAY_SUBJECT_HEADER",
    "Replay",
    "dead_letter",
    "dead_letter_headers",
    "replay_of",
    "replay_subject",
]

REPLAY_HEADER_PREFIX = "Ipbus-Replay-"
"""Every header a replay carries starts so."""
REPLAY_FOR_HEADER = f"{REPLAY_HEADER_PREFIX}For"
"""On a replay: the one consumer meant to take it (absent: every consumer that reads it)."""
REPLAY_OF_HEADER = f"{REPLAY_HEADER_PREFIX}Of"
"""On a replay: the ``IPBUS_DLQ`` sequence it was replayed from."""
REPLAY_SUBJECT_HEADER = f"{REPLAY_HEADER_PREFIX}Subject"
"""On a replay: the subject the event was first published on (it is checked against)."""
_REPLAY_PREFIX = f"{EVENT_PREFIX}.{OPERATOR}."


def replay_subject(original_subject: str) -> str:
    """Where a replay of an event first sent on ``original_subject`` is published."""
    route = parse_event_subject(original_subject)
    return f"{_REPLAY_PREFIX}{route.recipient}.{route.key}.{route.event_type}"


@dataclass(frozen=True, slots=True)
class Replay:
    """A replay the operator published: for whom, and the event's original subject."""

    consumer: str | None
    original_subject: str

    def takes(self, durable: str) -> bool:
        """Whether consumer ``durable`` applies it (the others acknowledge it untouched)."""
        return self.consumer is None or self.consumer == durable


def replay_of(subject: str, headers: Mapping[str, str] | None) -> Replay | None:
    """The replay a message is, or None: only the operator's subject makes one."""
    if not subject.startswith(_REPLAY_PREFIX):
        return None
    headers = headers or {}
    return Replay(headers.get(REPLAY_FOR_HEADER), headers.get(REPLAY_SUBJECT_HEADER, ""))


DLQ_HEADER_PREFIX = "Ipbus-Dlq-"
"""Every header a dead letter gains starts so (a replay leaves them behind)."""
DLQ_REASON_HEADER = "Ipbus-Dlq-Reason"
"""Why it was refused: a :class:`RejectReason` value."""
DLQ_DETAIL_HEADER = "Ipbus-Dlq-Detail"
"""The refusal in words (redacted, one line, at most :data:`DLQ_DETAIL_MAX` characters)."""
DLQ_CONSUMER_HEADER = "Ipbus-Dlq-Consumer"
"""The consumer (or outbox relay) that refused it."""
DLQ_ORIGINAL_SUBJECT_HEADER = "Ipbus-Dlq-Original-Subject"
"""The subject the event was published on (for a replay: the one it was first sent on)."""
DLQ_ORIGINAL_SEQ_HEADER = "Ipbus-Dlq-Original-Seq"
"""Its ``IPBUS_EVENTS`` sequence (0: it never was on the stream)."""
DLQ_TIME_HEADER = "Ipbus-Dlq-Time"
"""When it was refused (ISO 8601)."""
DLQ_HEADERS = (
    DLQ_REASON_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_CONSUMER_HEADER,
    DLQ_ORIGINAL_SUBJECT_HEADER,
    DLQ_ORIGINAL_SEQ_HEADER,
    DLQ_TIME_HEADER,
)
"""The headers every dead letter carries, in the order ``ipbus dlq`` shows them."""
DLQ_DETAIL_MAX = 1000


def dead_letter_headers(
    *,
    reason: RejectReason,
    detail: str,
    consumer: str,
    original_subject: str,
    original_seq: int,
    now: datetime,
) -> dict[str, str]:
    """The :data:`DLQ_HEADERS` of one dead letter (``detail`` cut to one short line)."""
    return {
        DLQ_REASON_HEADER: reason.value,
        DLQ_DETAIL_HEADER: detail[:DLQ_DETAIL_MAX].replace("\r", " ").replace("\n", " "),
        DLQ_CONSUMER_HEADER: consumer,
        DLQ_ORIGINAL_SUBJECT_HEADER: original_subject,
        DLQ_ORIGINAL_SEQ_HEADER: str(original_seq),
        DLQ_TIME_HEADER: now.isoformat(),
    }


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
    replay = replay_of(msg.subject, msg.headers)
    headers = {
        key: value
        for key, value in (msg.headers or {}).items()
        # the server's own headers stay behind: JetStream refuses a publish carrying e.g.
        # Nats-Stream-Source, which every event sourced to a leaf-node site has
        if not key.startswith((DLQ_HEADER_PREFIX, "Nats-"))
    }
    headers["Nats-Msg-Id"] = (
        f"{consumer}:{stream_seq}" if stream_seq else f"{consumer}:{now.isoformat()}"
    )
    headers.update(
        dead_letter_headers(
            reason=reason,
            detail=redact_text(detail),
            consumer=consumer,
            original_subject=replay.original_subject if replay else msg.subject,
            original_seq=stream_seq,
            now=now,
        )
    )
    await js.publish(
        dlq_subject(consumer, reason.value), msg.data, stream=DLQ_STREAM, headers=headers
    )
