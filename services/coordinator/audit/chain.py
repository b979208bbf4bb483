"""The audit log's hash chain, pure: what a row is, how it is hashed, how a chain is checked.

Every event the coordinator accepts or rejects becomes one :class:`AuditEntry`. Each entry's
``hash`` is SHA-256 over the RFC 8785 canonical JSON of its fields, including its ``seq``
and the previous entry's hash; so altering a row breaks its own hash, removing one breaks
the next row's link, and reordering breaks both. Removing the *last* rows, or rewriting the
whole chain with recomputed hashes, leaves a valid chain: so the coordinator publishes a
signed :class:`AuditAnchor` of its :func:`head` to a stream its database role cannot touch
(:mod:`services.coordinator.audit.anchors`), and :func:`anchor_mismatch` compares the two.
Accepted rows keep the signed event as received (``body``), so an auditor can check the
sender's signature again without the bus.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from contracts.canonical import canonical_json

__all__ = [
    "GENESIS",
    "AuditAnchor",
    "AuditEntry",
    "AuditVerdict",
    "ChainBreak",
    "anchor_mismatch",
    "chain_next",
    "entry_hash",
    "first_break",
    "head",
]

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""


class AuditVerdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ANSWERED = "answered"
    """A query answered: ``sender`` asked about ``case_id`` and was shown it."""
    REFUSED = "refused"
    """A query refused (not found, or not shared with the requester)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One row of the log. Times are ISO 8601 strings so the hash survives any database."""

    seq: int
    ref: str
    """Unique per fact: ``event:<id>`` when accepted, ``msg:<consumer>:<stream seq>`` refused."""
    recorded_at: str
    verdict: AuditVerdict
    subject: str
    event_id: str | None = None
    event_type: str | None = None
    sender: str | None = None
    case_id: str | None = None
    reason: str | None = None
    detail: str | None = None
    digest: str
    """SHA-256 of the message body as received."""
    body: str | None = None
    """Accepted events: the signed event (canonical JSON, signature included), for re-checking."""
    prev_hash: str = GENESIS
    hash: str = ""


_HASHED = tuple(f.name for f in fields(AuditEntry) if f.name != "hash")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) of every field but ``hash``, canonical JSON."""
    values = {name: getattr(entry, name) for name in _HASHED}  # flat: no deep copy needed
    values["verdict"] = entry.verdict.value
    return hashlib.sha256(canonical_json(values)).hexdigest()


def chain_next(previous: AuditEntry | None, entry: AuditEntry) -> AuditEntry:
    """``entry`` numbered and linked after ``previous`` (None: the first), with its hash."""
    linked = replace(
        entry,
        seq=previous.seq + 1 if previous else 1,
        prev_hash=previous.hash if previous else GENESIS,
        hash="",
    )
    return replace(linked, hash=entry_hash(linked))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where the chain first stops holding, and why."""

    position: int
    """1-based position in seq order of the first row that does not verify."""
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.position} (seq {self.seq}): {self.reason}"


def first_break(entries: Iterable[AuditEntry]) -> ChainBreak | None:
    """The first row (in the order given, which must be seq order) that does not verify."""
    previous: AuditEntry | None = None
    for position, entry in enumerate(entries, start=1):
        expected_seq = previous.seq + 1 if previous else 1
        expected_prev = previous.hash if previous else GENESIS
        if entry.seq != expected_seq:
            return ChainBreak(position, entry.seq, f"seq {entry.seq}, expected {expected_seq}")
        if entry.prev_hash != expected_prev:
            return ChainBreak(
                position, entry.seq, "prev_hash does not match the previous row's hash"
            )
        if entry.hash != entry_hash(entry):
            return ChainBreak(position, entry.seq, "content does not match its hash")
        previous = entry
    return None


def head(entries: Iterable[AuditEntry]) -> tuple[int, str]:
    """(count, hash of the last row): the value to anchor outside the database."""
    last: AuditEntry | None = None
    count = 0
    for last in entries:  # noqa: B007
        count += 1
    return count, last.hash if last else GENESIS


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditAnchor:
    """The chain's head as the coordinator saw it at ``time``, signed with its nkey."""

    agency: str
    rows: int
    head: str
    time: str
    signature: str = ""

    def signed_bytes(self) -> bytes:
        """RFC 8785 canonical JSON of every field but the signature: what is signed."""
        return canonical_json(
            {"agency": self.agency, "rows": self.rows, "head": self.head, "time": self.time}
        )

    def to_json(self) -> bytes:
        return canonical_json({name: getattr(self, name) for name in _ANCHOR_FIELDS})

    @classmethod
    def from_json(cls, data: bytes | str) -> "AuditAnchor":
        parsed = json.loads(data)
        return cls(**{name: parsed[name] for name in _ANCHOR_FIELDS if name in parsed})


_ANCHOR_FIELDS = tuple(f.name for f in fields(AuditAnchor))


def anchor_mismatch(entries: Sequence[AuditEntry], anchor: AuditAnchor) -> str | None:
    """Why an intact chain disagrees with ``anchor`` (a cut tail, a rewrite), or None.

    Rows after the anchor's count are newer than it and not judged here.
    """
    count = len(entries)
    if count < anchor.rows:
        return (
            f"rows {count + 1}..{anchor.rows} missing: the chain ends at {count} "
            f"but the anchor of {anchor.time} says {anchor.rows}"
        )
    at = entries[anchor.rows - 1].hash if anchor.rows else GENESIS
    if at != anchor.head:
        return f"head hash at row {anchor.rows} differs from the anchor of {anchor.time}"
    return None
