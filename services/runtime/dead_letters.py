"""Reading dead letters back, and replaying them once the cause is fixed.

A replay is published on the original subject with the original body and headers, so
it is the same event; two headers make it safe:

* ``Ipbus-Replay-For: <consumer>`` — only the consumer that refused the message takes
  it; every other consumer on that subject acknowledges it untouched (they either
  applied it already or refused it into their own dead letter).
* ``Nats-Msg-Id: ipbus-replay-<consumer>-<dlq seq>`` — the event id would be dropped by
  JetStream's duplicate window as the original delivery, so a replay carries its own id,
  stable per dead letter: replaying the same letter twice in the window publishes once.

A letter the outbox set aside (consumer ``outbox``) never reached any consumer, so its
replay goes to all of them.

A letter is deleted from ``IPBUS_DLQ`` only after the replay's PubAck; if the replay is
refused again it comes back as a new letter with the new reason.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.envelope import RejectReason
from contracts.subjects import DLQ_STREAM, EVENT_STREAM
from services.runtime.dlq import REPLAY_FOR_HEADER, REPLAY_OF_HEADER

__all__ = ["DeadLetter", "dead_letter_at", "read_dead_letters", "replay"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message on ``IPBUS_DLQ``, with why and where from."""

    seq: int
    reason: str
    detail: str
    consumer: str
    original_subject: str
    original_seq: int
    time: datetime | None
    body: bytes
    headers: dict[str, str]

    @property
    def original_headers(self) -> dict[str, str]:
        """The headers it was published with (ours and JetStream's removed)."""
        return {
            key: value
            for key, value in self.headers.items()
            if not key.startswith(("Ipbus-Dlq-", "Ipbus-Replay-", "Nats-"))
        }


def _letter(seq: int, headers: dict[str, str], body: bytes) -> DeadLetter:
    stamp = headers.get("Ipbus-Dlq-Time")
    return DeadLetter(
        seq=seq,
        reason=headers.get("Ipbus-Dlq-Reason", "?"),
        detail=headers.get("Ipbus-Dlq-Detail", ""),
        consumer=headers.get("Ipbus-Dlq-Consumer", "?"),
        original_subject=headers.get("Ipbus-Dlq-Original-Subject", ""),
        original_seq=int(headers.get("Ipbus-Dlq-Original-Seq") or 0),
        time=datetime.fromisoformat(stamp) if stamp else None,
        body=body,
        headers=headers,
    )


async def dead_letter_at(js: JetStreamContext, seq: int) -> DeadLetter | None:
    """The letter at ``seq``, or ``None`` if there is none (never was, or replayed)."""
    try:
        msg = await js.get_msg(DLQ_STREAM, seq)
    except NotFoundError:
        return None
    return _letter(seq, dict(msg.headers or {}), msg.data or b"")


async def read_dead_letters(
    js: JetStreamContext, *, consumer: str | None = None, reason: str | None = None
) -> AsyncIterator[DeadLetter]:
    """Every letter still on ``IPBUS_DLQ``, oldest first, optionally filtered."""
    state = (await js.stream_info(DLQ_STREAM)).state
    if state.messages == 0:
        return
    for seq in range(state.first_seq, state.last_seq + 1):
        letter = await dead_letter_at(js, seq)
        if letter is None:
            continue
        if consumer is not None and letter.consumer != consumer:
            continue
        if reason is not None and letter.reason != reason:
            continue
        yield letter


async def replay(js: JetStreamContext, letter: DeadLetter, *, keep: bool = False) -> int:
    """Publish ``letter`` again on its original subject for its consumer; its new seq."""
    if not letter.original_subject:
        raise ValueError(f"dead letter {letter.seq} has no original subject to replay to")
    headers = {
        **letter.original_headers,
        "Nats-Msg-Id": f"ipbus-replay-{letter.consumer}-{letter.seq}",
        REPLAY_OF_HEADER: str(letter.seq),
    }
    if letter.reason != RejectReason.UNPUBLISHABLE:  # never published: every consumer gets it
        headers[REPLAY_FOR_HEADER] = letter.consumer
    ack = await js.publish(
        letter.original_subject, letter.body, stream=EVENT_STREAM, headers=headers
    )
    if not keep:
        with contextlib.suppress(NotFoundError):  # replayed concurrently by someone else
            await js.delete_msg(DLQ_STREAM, letter.seq)
    return int(ack.seq)
