"""The inbox: which events a consumer has already applied.

The (consumer, event id) row is inserted in the same transaction as the handler's
effects, so a redelivered event finds it and changes nothing, and a crash before commit
leaves neither. The digest of the signed content tells a harmless redelivery from a
different event re-using an id.
"""

import hashlib
from datetime import datetime
from enum import StrEnum

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event, signing_input
from services.runtime.database import RuntimeTable

__all__ = ["InboxRecord", "InboxVerdict", "event_digest", "record_in_inbox"]


class InboxRecord(RuntimeTable, table=True):
    __tablename__ = "ipbus_inbox"

    consumer: str = Field(primary_key=True, max_length=80)
    event_id: str = Field(primary_key=True, max_length=26)
    digest: str = Field(max_length=64)
    processed_at: datetime


class InboxVerdict(StrEnum):
    NEW = "new"
    ALREADY_APPLIED = "already_applied"
    CONFLICTING = "conflicting"


def event_digest(event: Event) -> str:
    """SHA-256 of the canonical event without signature: what "the same event" means."""
    return hashlib.sha256(signing_input(event.raw)).hexdigest()


async def record_in_inbox(
    session: AsyncSession, consumer: str, event: Event, now: datetime
) -> InboxVerdict:
    """Claim ``event`` for ``consumer`` inside the caller's transaction."""
    digest = event_digest(event)
    values = {"consumer": consumer, "event_id": event.id, "digest": digest, "processed_at": now}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(InboxRecord).values(**values).on_conflict_do_nothing()
    result = await session.exec(statement)
    if result.rowcount == 1:
        return InboxVerdict.NEW
    stored = await session.get(InboxRecord, (consumer, event.id))
    if stored is not None and stored.digest == digest:
        return InboxVerdict.ALREADY_APPLIED
    return InboxVerdict.CONFLICTING
