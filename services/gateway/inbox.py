"""The agency's inbox as its own systems see it through the gateway.

Items are what other agencies delivered to this one and an officer must look at: referrals
received (:class:`ReferralInbox`) and warnings delivered (``gateway_warnings.WarningInbox``),
one :class:`InboxSource` each. An item is *acknowledged* when the agency's system confirms
it has taken it over (local delivery); a source may also put an event on the bus at that
moment (the warning source emits ``warning.acknowledged``).

Each item gets a *position* the first time the gateway lists it (:func:`positioned`): a number
higher than any given before, so a client paging with ``?after=<position>`` never misses an
item that arrived meanwhile, even one whose ``received_at`` is older than the last it saw.

>>> item_ref("referral:01J0000000000000000000000A")
('referral', '01J0000000000000000000000A')
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.referrals import ReferralParty
from services.runtime.storage import RuntimeTable
from services.sdk import ReferralRecord, UnitOfWork

__all__ = [
    "InboxAcknowledgement",
    "InboxItem",
    "InboxSource",
    "ItemAcknowledgement",
    "ReferralInbox",
    "item_ref",
    "positioned",
]


class InboxItem(BaseModel):
    """One thing delivered to this agency, in the gateway's uniform shape."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    """``<kind>:<id>``, e.g. ``referral:01J…``; the handle to acknowledge it by."""
    position: int = 0
    """Where the item stands in this inbox: the cursor to page on (``?after=``)."""
    kind: str
    sender: str
    case_id: str | None
    state: str
    received_at: datetime
    acknowledged_at: datetime | None
    detail: dict[str, Any]


class ItemAcknowledgement(RuntimeTable, table=True):
    """When the agency's own system took an inbox item over."""

    __tablename__ = "ipbus_gateway_ack"

    item_id: str = Field(primary_key=True, max_length=80)
    acknowledged_at: datetime


class InboxPosition(RuntimeTable, table=True):
    """The order in which the gateway first listed each inbox item (the paging cursor)."""

    __tablename__ = "ipbus_gateway_inbox_position"

    position: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(unique=True, max_length=80)


async def positioned(session: AsyncSession, items: Sequence[InboxItem]) -> list[InboxItem]:
    """``items`` with their positions, new ones numbered after all others; by position."""
    known = {
        row.item_id: row.position
        for row in await session.exec(select(InboxPosition))
        if row.position is not None
    }
    new = [
        InboxPosition(item_id=item.item_id)
        for item in sorted(items, key=lambda item: (item.received_at, item.item_id))
        if item.item_id not in known
    ]
    if new:
        session.add_all(new)
        await session.flush()
        known.update({row.item_id: row.position for row in new if row.position is not None})
    placed = [item.model_copy(update={"position": known[item.item_id]}) for item in items]
    return sorted(placed, key=lambda item: item.position)


class InboxAcknowledgement(BaseModel):
    """The answer to an acknowledgement (repeating one is harmless and keeps the first time)."""

    item_id: str
    acknowledged_at: datetime


class InboxSource(Protocol):
    """One kind of inbox item; the gateway lists and acknowledges through these."""

    kind: str

    async def items(self, session: AsyncSession) -> list[InboxItem]:
        """Every item of this kind delivered to the agency, oldest first."""
        ...

    async def exists(self, session: AsyncSession, ref: str) -> bool:
        """Whether ``ref`` (the id after ``<kind>:``) is an item of this agency's inbox."""
        ...

    async def on_acknowledged(self, uow: UnitOfWork, ref: str) -> None:
        """Side effects of a first acknowledgement (e.g. an event to the sender)."""
        ...


def item_ref(item_id: str) -> tuple[str, str]:
    """``"referral:01J…"`` → ``("referral", "01J…")``; ``ValueError`` if malformed."""
    kind, sep, ref = item_id.partition(":")
    if not sep or not kind or not ref:
        raise ValueError(f"inbox item id {item_id!r} is not <kind>:<id>")
    return kind, ref


async def acknowledgements(session: AsyncSession, ids: Sequence[str]) -> dict[str, datetime]:
    """When each of ``ids`` was acknowledged, for those that were."""
    if not ids:
        return {}
    rows = await session.exec(
        select(ItemAcknowledgement).where(col(ItemAcknowledgement.item_id).in_(list(ids)))
    )
    return {row.item_id: row.acknowledged_at for row in rows}


class ReferralInbox:
    """Referrals other agencies sent us (the ``ipbus_referral`` ledger, recipient side)."""

    kind = "referral"

    async def items(self, session: AsyncSession) -> list[InboxItem]:
        rows = list(
            await session.exec(
                select(ReferralRecord)
                .where(ReferralRecord.role == ReferralParty.RECIPIENT.value)
                .order_by(col(ReferralRecord.issued_at), col(ReferralRecord.referral_id))
            )
        )
        acked = await acknowledgements(session, [f"referral:{r.referral_id}" for r in rows])
        return [
            InboxItem(
                item_id=f"referral:{row.referral_id}",
                kind=self.kind,
                sender=row.sender,
                case_id=row.case_id,
                state=row.state,
                received_at=row.issued_at,
                acknowledged_at=acked.get(f"referral:{row.referral_id}"),
                detail={
                    "referral_id": row.referral_id,
                    "referral_kind": row.kind,
                    "receipt": row.receipt,
                    "local_ref": row.local_ref,
                    "note": row.note,
                },
            )
            for row in rows
        ]

    async def exists(self, session: AsyncSession, ref: str) -> bool:
        row = await session.get(ReferralRecord, ref)
        return row is not None and row.role == ReferralParty.RECIPIENT.value

    async def on_acknowledged(self, uow: UnitOfWork, ref: str) -> None:
        """Nothing on the bus: the wire receipt was sent when the referral was stored."""
