"""The inbox: which events a consumer has already applied.

The (consumer, event id) row is inserted in the same transaction as the handler's
effects, so a redelivered event finds it and changes nothing, and a crash before commit
leaves neither. The digest of the signed content tells a harmless redelivery from a
different event re-using an id.
"""

import hashlib
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event
from services.runtime.storage.database import RuntimeTable
from services.runtime.storage.sql import execute, insert_ignoring_duplicates, table_of

__all__ = ["InboxRecord", "InboxVerdict", "claim_in_inbox", "event_digest", "record_in_inbox"]


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
    return hashlib.sha256(event.signed_bytes).hexdigest()


async def record_in_inbox(
    session: AsyncSession, consumer: str, event: Event, now: datetime
) -> InboxVerdict:
    """Claim ``event`` for ``consumer`` inside the caller's transaction."""
    (verdict,) = await claim_in_inbox(session, consumer, [event], now)
    return verdict


async def claim_in_inbox(
    session: AsyncSession, consumer: str, events: list[Event], now: datetime
) -> list[InboxVerdict]:
    """Claim a batch of events for ``consumer`` with one ``INSERT … ON CONFLICT DO NOTHING
    RETURNING``: what comes back is new; the rest was claimed before (read its digest).

    Another replica claiming the same event concurrently holds its row until it commits;
    this insert waits for it, then finds the event claimed.
    """
    table = table_of(InboxRecord)
    digests: dict[str, str] = {}
    for event in events:
        digests.setdefault(event.id, event_digest(event))
    inserted = await execute(
        session,
        insert_ignoring_duplicates(session, table).returning(table.c.event_id),
        [
            {"consumer": consumer, "event_id": i, "digest": d, "processed_at": now}
            for i, d in digests.items()
        ],
    )
    new = set(inserted.scalars())
    recorded: dict[str, str] = {}
    if before := digests.keys() - new:
        found = await execute(
            session,
            select(table.c.event_id, table.c.digest).where(
                table.c.consumer == consumer, table.c.event_id.in_(before)
            ),
        )
        recorded = {row.event_id: row.digest for row in found}
    verdicts = []
    for event in events:
        digest = event_digest(event)
        if event.id in new:  # the first copy in the batch is the one claimed
            new.discard(event.id)
            recorded[event.id] = digest
            verdicts.append(InboxVerdict.NEW)
        elif recorded.get(event.id) == digest:
            verdicts.append(InboxVerdict.ALREADY_APPLIED)
        else:
            verdicts.append(InboxVerdict.CONFLICTING)
    return verdicts
