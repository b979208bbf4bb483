"""The audit log table: append inside the caller's transaction, read back in seq order."""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import EnvelopeRejected, Event, parse_json
from contracts.identifiers import new_ulid
from services.coordinator.audit.chain import GENESIS, AuditEntry, AuditVerdict, chain_next
from services.coordinator.store import CoordinatorTable
from services.runtime.privacy import redact_text
from services.runtime.storage import execute, pending_writes, table_of, take_turns

__all__ = [
    "AuditRecord",
    "accepted_entry",
    "append_audit",
    "audit_head",
    "audit_length",
    "query_entry",
    "read_audit",
    "rejected_entry",
]


class AuditRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_audit"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ref: str = Field(unique=True, max_length=120)
    recorded_at: str = Field(max_length=40)
    verdict: str = Field(max_length=10)
    subject: str
    event_id: str | None = Field(default=None, max_length=40)
    event_type: str | None = Field(default=None, max_length=80)
    sender: str | None = Field(default=None, max_length=80)
    case_id: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=40)
    detail: str | None = None
    digest: str = Field(max_length=64)
    body: str | None = None
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


_TAIL = "ipbus.audit_tail"
"""Key in ``session.info`` for the last entry this transaction appended."""


def _entry(record: AuditRecord) -> AuditEntry:
    return _entry_of_row(record.model_dump())


def _entry_of_row(row: Mapping[str, Any]) -> AuditEntry:
    data = dict(row)
    data["verdict"] = AuditVerdict(data["verdict"])
    return AuditEntry(**data)


def accepted_entry(
    event: Event, body_digest: str, now: datetime, body: str | None = None
) -> AuditEntry:
    """An accepted event, before it is numbered and linked; ``body``: the signed event."""
    return AuditEntry(
        seq=0,
        ref=f"event:{event.id}",
        recorded_at=now.isoformat(),
        verdict=AuditVerdict.ACCEPTED,
        subject=str(event.route),
        event_id=event.id,
        event_type=event.event_type,
        sender=event.sender,
        case_id=event.case_id,
        digest=body_digest,
        body=body,
    )


def query_entry(
    *,
    subject: str,
    requester: str,
    body: bytes,
    case_id: str | None,
    answered: bool,
    detail: str,
    now: datetime,
) -> AuditEntry:
    """A question answered or refused: who asked about which case, and when."""
    return AuditEntry(
        seq=0,
        ref=f"query:{new_ulid()}",
        recorded_at=now.isoformat(),
        verdict=AuditVerdict.ANSWERED if answered else AuditVerdict.REFUSED,
        subject=subject[:200],
        sender=requester[:80],
        case_id=case_id[:40] if case_id else None,
        detail=detail[:500],
        digest=hashlib.sha256(body).hexdigest(),
    )


def _field(body: bytes, name: str) -> str | None:
    """Best effort: a string field of a (possibly malformed) JSON body, for the auditor."""
    try:
        parsed: Any = parse_json(body)  # bounded: json.loads recurses on a deep body
    except EnvelopeRejected:
        return None
    value = parsed.get(name) if isinstance(parsed, dict) else None
    return value[:40] if isinstance(value, str) and value[:40].isprintable() else None


def rejected_entry(
    *, subject: str, body: bytes, ref: str, reason: str, detail: str, now: datetime
) -> AuditEntry:
    """A refused message, before it is numbered and linked."""
    return AuditEntry(
        seq=0,
        ref=ref,
        recorded_at=now.isoformat(),
        verdict=AuditVerdict.REJECTED,
        subject=subject[:200],
        event_id=_field(body, "id"),
        event_type=_field(body, "type"),
        reason=reason,
        detail=redact_text(detail)[:500],  # an exception's repr may quote personal data
        digest=hashlib.sha256(body).hexdigest(),
    )


_TAIL_STATEMENT = (
    core_select(table_of(AuditRecord))
    .order_by(table_of(AuditRecord).c.seq.desc())
    .limit(1)
    .with_for_update()
)
"""The chain's last row, locked (PostgreSQL): built once, not per batch."""


async def append_audit(
    session: AsyncSession, entry: AuditEntry, *, known_new: bool = False
) -> AuditEntry | None:
    """Link ``entry`` after the last row and add it; None if its ``ref`` is already logged.

    On PostgreSQL a transaction-scoped advisory lock makes appenders (the event consumer,
    query answers, replicas) take turns, and the last row is read ``FOR UPDATE``; a lost
    race would still surface as a primary-key conflict, never a fork. Within one
    transaction the tail is remembered and rows are written at commit, so a batch of
    events reads the tail once and writes once. ``known_new``: the caller's inbox claim
    in this transaction already proves the ref unseen.
    """
    table = table_of(AuditRecord)
    if not known_new:
        existing = await execute(session, core_select(table.c.seq).where(table.c.ref == entry.ref))
        if existing.first() is not None:
            return None
    last: AuditEntry | None = session.info.get(_TAIL)
    if last is None:
        if session.get_bind().dialect.name == "postgresql":
            # one appender at a time until commit: the event consumer and query answers
            # would otherwise both read the same tail and one lose on the primary key
            await take_turns(session, AuditRecord.__tablename__)
        row = (
            await execute(
                session,
                _TAIL_STATEMENT,
            )
        ).first()
        last = _entry_of_row(dict(row._mapping)) if row is not None else None
    linked = chain_next(last, entry)
    data: dict[str, Any] = {name: getattr(linked, name) for name in AuditRecord.model_fields}
    data["verdict"] = linked.verdict.value
    pending_writes(session).insert(table, data)
    session.info[_TAIL] = linked
    return linked


async def audit_length(session: AsyncSession) -> int:
    """How many rows the chain has (its last sequence number; rows are numbered from 1)."""
    last = (
        await session.exec(select(AuditRecord.seq).order_by(col(AuditRecord.seq).desc()).limit(1))
    ).first()
    return int(last or 0)


async def audit_head(session: AsyncSession) -> tuple[int, str]:
    """(rows, hash of the last row): what an anchor records."""
    last = (
        await session.exec(
            select(AuditRecord.seq, AuditRecord.hash).order_by(col(AuditRecord.seq).desc()).limit(1)
        )
    ).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS)


async def read_audit(session: AsyncSession) -> Sequence[AuditEntry]:
    """Every row in seq order."""
    rows = await session.exec(select(AuditRecord).order_by(col(AuditRecord.seq)))
    return [_entry(row) for row in rows]
