"""Subject names of DESIGN §3: one place that builds and parses them."""

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
    "query_subject",
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
_EVENT_TYPE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*$")


class InvalidSubject(ValueError):
    """A subject that does not follow ``ipbus.v1.<sender>.<recipient>.<event-type>``."""


@dataclass(frozen=True, slots=True)
class EventSubject:
    """The three facts a subject carries; the server enforces ``sender``."""

    sender: str
    recipient: str
    event_type: str

    def __str__(self) -> str:
        return event_subject(self.sender, self.recipient, self.event_type)


def event_subject(sender: str, recipient: str, event_type: str) -> str:
    """``ipbus.v1.<sender>.<recipient>.<event-type>``, validating the agency tokens."""
    for role, agency in (("sender", sender), ("recipient", recipient)):
        if not is_agency_id(agency):
            raise InvalidSubject(f"{role} {agency!r} is not an agency id")
    if not _EVENT_TYPE.match(event_type):
        raise InvalidSubject(
            f"event type {event_type!r} is not dot-separated lower-case words (referral.issued)"
        )
    return f"{EVENT_PREFIX}.{sender}.{recipient}.{event_type}"


def parse_event_subject(subject: str) -> EventSubject:
    """Split an event subject into sender, recipient and event type (dots kept)."""
    parts = subject.split(".", 4)
    if len(parts) != 5 or f"{parts[0]}.{parts[1]}" != EVENT_PREFIX:
        raise InvalidSubject(f"{subject!r} is not ipbus.v1.<sender>.<recipient>.<event-type>")
    _, _, sender, recipient, event_type = parts
    event_subject(sender, recipient, event_type)  # validates the tokens
    return EventSubject(sender, recipient, event_type)


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
