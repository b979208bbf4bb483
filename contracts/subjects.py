"""Subject names of DESIGN §3: one place that builds and parses them.

An event is published on ``ipbus.v1.<sender>.<recipient>.<key>.<family>.<verb>``: ``key``
is the case the event is about (else its correlation, else its own id,
:func:`contracts.envelope.partition_key`), so that the stream's subject transform files it
under a partition, ``ipbus.v1.<sender>.<recipient>.<partition>.<key>.<family>.<verb>``,
the same case always in the same partition (issue 18). Readers see the stored form.
"""

import re
from dataclasses import dataclass

from contracts.identifiers import is_agency_id

__all__ = [
    "AUDIT_ANCHOR_STREAM",
    "AUDIT_ANCHOR_SUBJECT",
    "COORDINATOR",
    "DLQ_PREFIX",
    "DLQ_STREAM",
    "EVENT_PREFIX",
    "EVENT_STREAM",
    "QUERY_PREFIX",
    "EventSubject",
    "InvalidSubject",
    "agency_consumer",
    "agency_filter",
    "dlq_subject",
    "event_subject",
    "parse_event_subject",
    "partition_filter",
    "query_subject",
    "stored_filter",
]

EVENT_PREFIX = "ipbus.v1"
EVENT_STREAM = "IPBUS"
DLQ_PREFIX = "ipbus.dlq"
DLQ_STREAM = "IPBUS_DLQ"
QUERY_PREFIX = "ipbus.query"
COORDINATOR = "coordinator"
AUDIT_ANCHOR_SUBJECT = "ipbus.audit.anchor"
"""The coordinator's signed audit-chain heads (SECURITY.md); nobody else publishes here."""
AUDIT_ANCHOR_STREAM = "IPBUS_AUDIT_ANCHORS"
_TOKEN = re.compile(r"^[a-z][a-z_]*$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
_KEY = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
"""A partition key is a ULID (a case, a correlation or an event id): one subject token."""
_PUBLISHED_TOKENS = 7
_STORED_TOKENS = 8


class InvalidSubject(ValueError):
    """A subject that does not follow ``ipbus.v1.<sender>.<recipient>.<key>.<event-type>``."""


@dataclass(frozen=True, slots=True)
class EventSubject:
    """The facts a subject carries; the server enforces ``sender``, the stream the partition."""

    sender: str
    recipient: str
    key: str
    event_type: str
    partition: int | None = None
    """The partition the stream filed the event under (None: as published, not yet stored)."""

    def __str__(self) -> str:
        """The subject as published (a replay publishes it again)."""
        return event_subject(self.sender, self.recipient, self.key, self.event_type)


def event_subject(sender: str, recipient: str, key: str, event_type: str) -> str:
    """``ipbus.v1.<sender>.<recipient>.<key>.<event-type>``, validating every token."""
    for role, agency in (("sender", sender), ("recipient", recipient)):
        if not is_agency_id(agency):
            raise InvalidSubject(f"{role} {agency!r} is not an agency id")
    if not _KEY.match(key):
        raise InvalidSubject(f"key {key!r} is not a ULID (the case, correlation or event id)")
    if not _EVENT_TYPE.match(event_type):
        raise InvalidSubject(
            f"event type {event_type!r} is not two dot-separated lower-case words (referral.issued)"
        )
    return f"{EVENT_PREFIX}.{sender}.{recipient}.{key}.{event_type}"


def parse_event_subject(subject: str) -> EventSubject:
    """Sender, recipient, key, event type and (stored form) partition of an event subject."""
    parts = subject.split(".")
    if len(parts) not in (_PUBLISHED_TOKENS, _STORED_TOKENS) or ".".join(parts[:2]) != (
        EVENT_PREFIX
    ):
        raise InvalidSubject(
            f"{subject!r} is not ipbus.v1.<sender>.<recipient>.<key>.<family>.<verb>"
        )
    partition: int | None = None
    if len(parts) == _STORED_TOKENS:
        token = parts.pop(4)
        if not token.isdigit() or len(token) > 4:
            raise InvalidSubject(f"partition {token!r} of {subject!r} is not a number")
        partition = int(token)
    _, _, sender, recipient, key, family, verb = parts
    event_type = f"{family}.{verb}"
    event_subject(sender, recipient, key, event_type)  # validates the tokens
    return EventSubject(sender, recipient, key, event_type, partition)


def stored_filter(
    sender: str = "*", recipient: str = "*", event_type: str = ">", *, key: str = "*"
) -> str:
    """A filter on stored events (any partition): ``ipbus.v1.<s>.<r>.*.<key>.<type>``, each
    part a token or a wildcard (``event_type`` may be ``warning.>`` or ``>``)."""
    return f"{EVENT_PREFIX}.{sender}.{recipient}.*.{key}.{event_type}"


def partition_filter(partition: int) -> str:
    """The stored subjects of one partition: what one coordinator consumer reads."""
    return f"{EVENT_PREFIX}.*.*.{partition}.>"


def agency_filter(agency_id: str) -> str:
    """The filter of an agency's durable consumer: everything addressed to it."""
    return f"{EVENT_PREFIX}.*.{agency_id}.>"


def agency_consumer(agency_id: str) -> str:
    """The durable consumer name an agency reads through."""
    return f"agency-{agency_id}"


def query_subject(requester: str, query: str) -> str:
    """``ipbus.query.<requester>.<query>``: core request/reply answered by the coordinator."""
    if not is_agency_id(requester):
        raise InvalidSubject(f"requester {requester!r} is not an agency id")
    if not _TOKEN.match(query):
        raise InvalidSubject(f"query name {query!r} is not one lower-case word")
    return f"{QUERY_PREFIX}.{requester}.{query}"


def dlq_subject(consumer: str, reason: str) -> str:
    """Where a consumer puts a message it refused: ``ipbus.dlq.<consumer>.<reason>``."""
    if not is_agency_id(consumer):
        raise InvalidSubject(f"consumer {consumer!r} is not a single subject token")
    if not _TOKEN.match(reason):
        raise InvalidSubject(f"reason {reason!r} is not one lower-case word")
    return f"{DLQ_PREFIX}.{consumer}.{reason}"
