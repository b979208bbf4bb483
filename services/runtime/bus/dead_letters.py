"""Reading dead letters back, and replaying them once the cause is fixed.

A replay carries the original body and headers, so it is the same event, on the subject
only the operator may publish to, ``ipbus.v1.operator.<recipient>.<event-type>``, which
the consumers of the original subject read too (:mod:`services.runtime.bus.dlq`); headers say
the rest, and are believed only there:

* ``Ipbus-Replay-Subject`` — the original subject, against which the event is checked.
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

A letter's headers are not taken on trust (an agency may write letters under its own
consumer name): :func:`check_letter` refuses one whose consumer is not the one its DLQ
subject names, whose original subject that consumer does not read, or whose body is not
an event signed by the sender that subject names.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.agencies import Registry
from contracts.envelope import EnvelopeRejected, RejectReason, decode_event
from contracts.subjects import (
    COORDINATOR,
    DLQ_STREAM,
    EVENT_STREAM,
    InvalidSubject,
    agency_consumer,
    dlq_subject,
    parse_event_subject,
)
from services.runtime.bus.dlq import (
    DLQ_CONSUMER_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_HEADER_PREFIX,
    DLQ_ORIGINAL_SEQ_HEADER,
    DLQ_ORIGINAL_SUBJECT_HEADER,
    DLQ_REASON_HEADER,
    DLQ_TIME_HEADER,
    REPLAY_FOR_HEADER,
    REPLAY_HEADER_PREFIX,
    REPLAY_OF_HEADER,
    REPLAY_SUBJECT_HEADER,
    replay_subject,
)
from services.runtime.bus.streams import COORDINATOR_CONSUMER
from services.runtime.identity.signing import verify_event

__all__ = [
    "DeadLetter",
    "LetterRefused",
    "check_letter",
    "dead_letter_at",
    "read_dead_letters",
    "replay",
]


class LetterRefused(ValueError):
    """A dead letter ``ipbus dlq replay`` will not replay, and why."""


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
    stored_subject: str = ""
    """The ``IPBUS_DLQ`` subject it was stored under (the server checked who wrote it)."""

    @property
    def original_headers(self) -> dict[str, str]:
        """The headers it was published with (ours and JetStream's removed)."""
        return {
            key: value
            for key, value in self.headers.items()
            if not key.startswith((DLQ_HEADER_PREFIX, REPLAY_HEADER_PREFIX, "Nats-"))
        }


def _letter(seq: int, headers: dict[str, str], body: bytes, stored_subject: str) -> DeadLetter:
    stamp = headers.get(DLQ_TIME_HEADER)
    return DeadLetter(
        seq=seq,
        reason=headers.get(DLQ_REASON_HEADER, "?"),
        detail=headers.get(DLQ_DETAIL_HEADER, ""),
        consumer=headers.get(DLQ_CONSUMER_HEADER, "?"),
        original_subject=headers.get(DLQ_ORIGINAL_SUBJECT_HEADER, ""),
        original_seq=int(headers.get(DLQ_ORIGINAL_SEQ_HEADER) or 0),
        time=datetime.fromisoformat(stamp) if stamp else None,
        body=body,
        headers=headers,
        stored_subject=stored_subject,
    )


async def dead_letter_at(js: JetStreamContext, seq: int) -> DeadLetter | None:
    """The letter at ``seq``, or ``None`` if there is none (never was, or replayed)."""
    try:
        msg = await js.get_msg(DLQ_STREAM, seq)
    except NotFoundError:
        return None
    return _letter(seq, dict(msg.headers or {}), msg.data or b"", msg.subject or "")


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


def _consumer_of(agency_id: str) -> str:
    return COORDINATOR_CONSUMER if agency_id == COORDINATOR else agency_consumer(agency_id)


def _reads(letter: DeadLetter) -> bool:
    """Whether the letter's consumer could have refused a message on its original subject."""
    route = parse_event_subject(letter.original_subject)
    if letter.reason == RejectReason.UNPUBLISHABLE:  # its own outbox could not send it
        return letter.consumer == _consumer_of(route.sender)
    # the coordinator reads every event; an agency what is addressed to it
    return letter.consumer in (COORDINATOR_CONSUMER, _consumer_of(route.recipient))


def check_letter(letter: DeadLetter, registry: Registry) -> None:
    """Raise :class:`LetterRefused` unless ``letter`` is one this bus itself could have written.

    Its consumer must be the one its DLQ subject names (only that consumer's identity may
    write there), that consumer must read its original subject, and its body must be an
    event, signed by the subject's sender, that the subject implies.
    """
    where = f"dead letter {letter.seq}"
    try:
        expected = dlq_subject(letter.consumer, letter.reason)
    except InvalidSubject as exc:
        raise LetterRefused(f"{where}: {exc}") from None
    if letter.stored_subject != expected:
        raise LetterRefused(
            f"{where} says it was refused by {letter.consumer!r} but was written to "
            f"{letter.stored_subject}, not {expected}"
        )
    try:
        if not _reads(letter):
            raise LetterRefused(
                f"{where}: {letter.consumer} does not read {letter.original_subject}"
            )
        event = decode_event(letter.body, letter.original_subject)
    except InvalidSubject as exc:
        raise LetterRefused(f"{where}: original subject: {exc}") from None
    except EnvelopeRejected as exc:
        raise LetterRefused(f"{where}: its body is not a valid event ({exc.detail})") from None
    if event.sender not in registry:
        raise LetterRefused(f"{where}: {event.sender} is not in the agency registry")
    sender = registry.get(event.sender)
    try:
        verify_event(event, [k for k in (sender.public_key, sender.previous_public_key) if k])
    except EnvelopeRejected as exc:
        raise LetterRefused(f"{where}: {exc.detail}") from None


async def replay(
    js: JetStreamContext, letter: DeadLetter, registry: Registry, *, keep: bool = False
) -> int:
    """Publish ``letter`` again for its consumer, on the operator's subject; its new seq.

    Raises :class:`LetterRefused` when :func:`check_letter` does.
    """
    if not letter.original_subject:
        raise LetterRefused(f"dead letter {letter.seq} has no original subject to replay to")
    check_letter(letter, registry)
    headers = {
        **letter.original_headers,
        "Nats-Msg-Id": f"ipbus-replay-{letter.consumer}-{letter.seq}",
        REPLAY_OF_HEADER: str(letter.seq),
        REPLAY_SUBJECT_HEADER: letter.original_subject,
    }
    if letter.reason != RejectReason.UNPUBLISHABLE:  # never published: every consumer gets it
        headers[REPLAY_FOR_HEADER] = letter.consumer
    ack = await js.publish(
        replay_subject(letter.original_subject), letter.body, stream=EVENT_STREAM, headers=headers
    )
    if not keep:
        with contextlib.suppress(NotFoundError):  # replayed concurrently by someone else
            await js.delete_msg(DLQ_STREAM, letter.seq)
    return int(ack.seq)
