"""The CloudEvents 1.0 envelope of DESIGN §4, in structured JSON mode.

Decoding is strict about the attributes ipbus relies on and tolerant of extensions it
does not know (they are kept, so a newer sender is not refused by an older receiver).
Signature *verification* needs the registry's keys and lives in the runtime; the bytes
that are signed are defined here so anyone can verify from outside.
"""

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json

from contracts.base import Payload
from contracts.canonical import NotCanonical, canonical_json, canonical_with_and_without
from contracts.events import (
    CLOUDEVENT_PREFIX,
    UnknownEventType,
    UnsupportedEventVersion,
    cloudevent_type,
    event_type_from_cloudevent,
    payload_model,
)
from contracts.identifiers import AGENCY_ID_PATTERN, Ulid, UtcDatetime, is_ulid, new_ulid
from contracts.subjects import EventSubject, InvalidSubject, event_subject, parse_event_subject

__all__ = [
    "CONTENT_TYPE",
    "TRACEPARENT_PATTERN",
    "DataClassification",
    "Envelope",
    "EnvelopeRejected",
    "Event",
    "RejectReason",
    "decode_event",
    "encode_envelope",
    "new_envelope",
    "new_traceparent",
    "parse_json",
    "partition_key",
    "publish_subject",
    "signing_input",
]

CONTENT_TYPE = "application/cloudevents+json"
_SOURCE_PATTERN = "^/agencies/" + AGENCY_ID_PATTERN[1:]
TRACEPARENT_PATTERN = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
"""A W3C Trace Context ``traceparent`` of version 00, as ipbus writes it."""


class DataClassification(StrEnum):
    """How sensitive the payload is; ``restricted`` is personal data (DESIGN §6)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class RejectReason(StrEnum):
    """Machine-readable reasons a message is dead-lettered; also a metric label (small set)."""

    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    BAD_SUBJECT = "bad_subject"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    TYPE_MISMATCH = "type_mismatch"
    SOURCE_MISMATCH = "source_mismatch"
    INVALID_PAYLOAD = "invalid_payload"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_SENDER = "unknown_sender"
    OVERSIZED = "oversized"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    ILLEGAL_STEP = "illegal_step"
    HANDLER_ERROR = "handler_error"
    REPLAYED = "replayed"
    UNPUBLISHABLE = "unpublishable"
    """Set aside by a service's outbox relay: JetStream refused the event for good."""
    NOT_A_PARTY = "not_a_party"
    """The sender writes about a case it is not party to (DESIGN §4a)."""
    NOT_PERMITTED = "not_permitted"
    """The sender may not send this event type, or not this step of this referral (§4a)."""
    NOT_CANONICAL = "not_canonical"
    """JSON, but with no canonical form to sign (I-JSON numbers, lone surrogates, depth)."""
    UNREADABLE = "unreadable"
    """The checks failed in a way no rule names (a bug in them); refused, not looped."""
    MAX_DELIVERIES = "max_deliveries"
    """Delivered ``max_deliver`` times and never acknowledged (JetStream's advisory)."""


class EnvelopeRejected(ValueError):
    """A message that breaks the contract; carries a reason code and a human detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class Envelope(BaseModel):
    """One CloudEvent. ``data`` stays the raw JSON object that was signed."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: Ulid
    source: str = Field(pattern=_SOURCE_PATTERN)
    type: str = Field(pattern=r"^ipbus\.[a-z_]+(\.[a-z_]+)*\.v[0-9]+$")
    subject: Ulid | None = None
    """The case the event is about (DESIGN §4)."""
    time: UtcDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    causationid: str | None = None
    signature: str | None = None
    dataclassification: DataClassification | None = None
    traceparent: str | None = Field(default=None, max_length=256)
    """W3C trace context (CloudEvents distributed tracing): the trace the event belongs to.
    Every event ipbus sends has one; absent from an older sender's; a malformed one is
    kept (it is signed) and ignored by tracing, as W3C asks of receivers."""
    tracestate: str | None = Field(default=None, max_length=512)
    data: dict[str, Any]

    @property
    def sender(self) -> str:
        """The agency named by ``source``."""
        return self.source.removeprefix("/agencies/")

    @property
    def extensions(self) -> dict[str, Any]:
        """Attributes this version does not know, kept as received."""
        return dict(self.model_extra or {})


PayloadT = TypeVar("PayloadT", bound=Payload)


@dataclass(frozen=True)
class Event:
    """A decoded, contract-valid event: the envelope, its typed payload, and its subject."""

    envelope: Envelope
    payload: Payload
    route: EventSubject
    raw: dict[str, Any]
    """The JSON object exactly as received: what the signature and digest are checked over."""
    signed_bytes: bytes = field(default=b"", repr=False)
    """The canonical bytes the signature covers (the inbox digest too); computed once, by
    :func:`decode_event`, which refuses an event that has none."""
    canonical_bytes: bytes = field(default=b"", repr=False)
    """The canonical bytes of the whole event, signature included (what the audit log keeps
    and its digest covers); computed with :attr:`signed_bytes`, in the same pass."""

    def __post_init__(self) -> None:
        if not self.signed_bytes or not self.canonical_bytes:
            whole, signed = canonical_with_and_without(self.raw, "signature")
            object.__setattr__(self, "signed_bytes", signed)
            object.__setattr__(self, "canonical_bytes", whole)

    @property
    def id(self) -> str:
        return self.envelope.id

    def payload_of(self, model: type[PayloadT]) -> PayloadT:
        """The payload as a ``model`` (a handler's typed access to what it was given).

        :class:`EnvelopeRejected` (``invalid_payload``, a dead letter) when it is another.
        """
        if not isinstance(self.payload, model):
            raise EnvelopeRejected(
                RejectReason.INVALID_PAYLOAD,
                f"{self.event_type} carries a {type(self.payload).__name__}, "
                f"not a {model.__name__}",
            )
        return self.payload

    @property
    def event_type(self) -> str:
        return self.route.event_type

    @property
    def sender(self) -> str:
        return self.route.sender

    @property
    def recipient(self) -> str:
        return self.route.recipient

    @property
    def case_id(self) -> str | None:
        return self.envelope.subject

    @property
    def correlation_id(self) -> str | None:
        return self.envelope.correlationid


def new_envelope(
    *,
    sender: str,
    payload: Payload,
    now: datetime,
    case_id: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    classification: DataClassification | None = None,
    event_id: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> Envelope:
    """An unsigned envelope for ``payload``, sent by ``sender`` at ``now``.

    Without ``traceparent`` (no active span, no cause) the event starts a trace of its own.
    """
    return Envelope(
        specversion="1.0",
        id=event_id or new_ulid(),
        source=f"/agencies/{sender}",
        type=cloudevent_type(payload.event_type),
        subject=case_id,
        time=now,
        correlationid=correlation_id or case_id,
        causationid=causation_id,
        dataclassification=classification,
        traceparent=traceparent or new_traceparent(),
        tracestate=tracestate if traceparent else None,
        data=payload.model_dump(mode="json", exclude_none=True),
    )


def partition_key(envelope: Envelope) -> str:
    """The subject's key token (DESIGN §3): the case the event is about (the envelope's
    ``subject``, else its payload's ``case_id``), else its correlation (a warning and its
    acknowledgements), else the event's own id. Events of one case share a partition, so
    the coordinator applies them in stream order; other cases go in parallel."""
    case_id = envelope.data.get("case_id")
    for candidate in (envelope.subject, case_id, envelope.correlationid):
        if isinstance(candidate, str) and is_ulid(candidate):
            return candidate
    return envelope.id


def publish_subject(envelope: Envelope, recipient: str) -> str:
    """The subject ``envelope`` is published on to ``recipient`` (DESIGN §3)."""
    event_type = envelope.type.removeprefix(CLOUDEVENT_PREFIX).rsplit(".", 1)[0]
    return event_subject(envelope.sender, recipient, partition_key(envelope), event_type)


def new_traceparent() -> str:
    """A fresh, sampled W3C ``traceparent``: a new trace id and a new parent id."""
    trace_id = secrets.token_hex(16)
    parent_id = secrets.token_hex(8)
    if trace_id == "0" * 32 or parent_id == "0" * 16:  # all-zero ids are invalid
        return new_traceparent()
    return f"00-{trace_id}-{parent_id}-01"


def _wire_dict(envelope: Envelope) -> dict[str, Any]:
    return envelope.model_dump(mode="json", exclude_none=True)


def encode_envelope(envelope: Envelope) -> bytes:
    """The structured-mode JSON body, compact."""
    return json.dumps(_wire_dict(envelope), separators=(",", ":"), ensure_ascii=False).encode()


def signing_input(envelope: Envelope | dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the event without ``signature``: the bytes that are signed."""
    wire = _wire_dict(envelope) if isinstance(envelope, Envelope) else dict(envelope)
    wire.pop("signature", None)
    return canonical_json(wire)


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, or :class:`EnvelopeRejected` (``not_json``); nothing else.

    ``pydantic_core.from_json`` is Rust (jiter): it never recurses on the Python stack (it
    refuses nesting beyond 200 levels itself), refuses invalid UTF-8, lone surrogate
    escapes and the ``NaN``/``Infinity`` literals, and is faster than ``json.loads``.
    Duplicate keys keep the last value, as ``json.loads`` does.
    """
    try:
        return from_json(body, allow_inf_nan=False)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise EnvelopeRejected(RejectReason.NOT_JSON, f"body is not JSON ({exc})") from exc


def decode_event(body: bytes, subject: str) -> Event:
    """Parse and check one message against DESIGN §3–§5, or raise :class:`EnvelopeRejected`.

    Signature verification is the caller's: it needs the sender's registered key.
    Whatever ``body`` holds, this returns an event or raises :class:`EnvelopeRejected`.
    """
    try:
        return _decode(body, subject)
    except EnvelopeRejected:
        raise
    except Exception as exc:  # the boundary: no input may escape it
        raise EnvelopeRejected(
            RejectReason.UNREADABLE, f"checks failed with {type(exc).__name__}"
        ) from exc


def _decode(body: bytes, subject: str) -> Event:
    try:
        route = parse_event_subject(subject)
    except InvalidSubject as exc:
        raise EnvelopeRejected(RejectReason.BAD_SUBJECT, str(exc)) from exc
    raw = parse_json(body)
    if not isinstance(raw, dict):
        raise EnvelopeRejected(RejectReason.NOT_CLOUDEVENT, "body is JSON but not an object")
    try:
        # the signed bytes (no signature) and the whole event (the audit body), one pass
        canonical_bytes, signed_bytes = canonical_with_and_without(raw, "signature")
    except NotCanonical as exc:
        raise EnvelopeRejected(RejectReason.NOT_CANONICAL, str(exc)) from exc
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise EnvelopeRejected(RejectReason.NOT_CLOUDEVENT, _first_error(exc)) from exc
    try:
        event_type = event_type_from_cloudevent(envelope.type)
    except UnsupportedEventVersion as exc:
        raise EnvelopeRejected(RejectReason.UNSUPPORTED_VERSION, str(exc)) from exc
    except UnknownEventType as exc:
        raise EnvelopeRejected(RejectReason.UNKNOWN_TYPE, str(exc)) from exc
    if event_type != route.event_type:
        raise EnvelopeRejected(
            RejectReason.TYPE_MISMATCH,
            f"type {envelope.type} does not match subject event type {route.event_type}",
        )
    if envelope.sender != route.sender:
        raise EnvelopeRejected(
            RejectReason.SOURCE_MISMATCH,
            f"source {envelope.source} does not match subject sender {route.sender}",
        )
    if route.key != (key := partition_key(envelope)):
        raise EnvelopeRejected(
            RejectReason.BAD_SUBJECT,
            f"subject key {route.key} is not the event's partition key {key} "
            "(its case, else its correlation, else its id)",
        )
    try:
        payload = payload_model(event_type).model_validate(envelope.data)
    except ValidationError as exc:
        raise EnvelopeRejected(RejectReason.INVALID_PAYLOAD, _first_error(exc)) from exc
    return Event(
        envelope=envelope,
        payload=payload,
        route=route,
        raw=raw,
        signed_bytes=signed_bytes,
        canonical_bytes=canonical_bytes,
    )


def _first_error(exc: ValidationError) -> str:
    """One readable line naming the first invalid field; the DLQ reason an operator reads."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
