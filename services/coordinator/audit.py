"""The audit log's hash chain, pure: what a row is, how it is hashed, how a chain is checked.

Every event the coordinator accepts or rejects becomes one :class:`AuditEntry`. Each entry's
``hash`` is SHA-256 over the RFC 8785 canonical JSON of its fields, including its ``seq``
and the previous entry's hash; so altering a row breaks its own hash, removing one breaks
the next row's link, and reordering breaks both. Removing the *last* rows leaves a valid
shorter chain: publish :func:`head` elsewhere (SECURITY.md) to detect truncation.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from contracts.canonical import canonical_json

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditVerdict",
    "ChainBreak",
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
