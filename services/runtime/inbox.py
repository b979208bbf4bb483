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
from services.runtime.database import RuntimeTable
from services.runtime.sql import execute, pending_writes, table_of

__all__ = ["InboxRecord", "InboxVerdict", "claim_in_inbox", "event_digest", "record_in_inbox"]


class InboxRecord(RuntimeTable, table=True):
    __tablename__ = "ipbus_inbox"

    consumer: str = Field(primary_key=True, max_length=80)
    event_id: str = Field(primary_key=True, max_length=26)
    digest: str = Field(max_length=64)
    processed_at: datetime


_CLAIMS = "ipbus.inbox_claims"
"""Key prefix in ``session.info`` for the claims this transaction has yet to write."""


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
    """Claim a batch of events for ``consumer``: one read, and one write at commit.

    The claims are plain inserts written just before commit: if another replica claimed
    one of these events meanwhile, the primary key refuses the commit, the transaction
    rolls back and the redelivery finds the event applied.
    """
    table = table_of(InboxRecord)
    claimed: dict[str, str] = session.info.setdefault(f"{_CLAIMS}:{consumer}", {})
    unclaimed = {e.id for e in events} - claimed.keys()
    found = await execute(
        session,
        select(table.c.event_id, table.c.digest).where(
            table.c.consumer == consumer, table.c.event_id.in_(unclaimed)
        ),
    )
    known = claimed | {row.event_id: row.digest for row in found}
    writes = pending_writes(session)
    verdicts = []
    for event in events:
        digest = event_digest(event)
        prior = known.get(event.id)
        if prior is None:
            known[event.id] = claimed[event.id] = digest
            writes.insert(
                table,
                {"consumer": consumer, "event_id": event.id, "digest": digest, "processed_at": now},
            )
            verdicts.append(InboxVerdict.NEW)
        elif prior == digest:
            verdicts.append(InboxVerdict.ALREADY_APPLIED)
        else:
            verdicts.append(InboxVerdict.CONFLICTING)
    return verdicts
