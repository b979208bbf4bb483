"""Warnings in the gateway inbox: what the coordinator delivered to this agency.

Acknowledging one through the gateway is the officer's acknowledgement: the desk records it
and sends ``warning.acknowledged`` to the coordinator, in the same transaction.
"""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.gateway.inbox import InboxItem, acknowledgements
from services.sdk import RECIPIENT, UnitOfWork, WarningDesk, WarningRecord

__all__ = ["WarningInbox"]


class WarningInbox:
    """Warnings delivered to the agency (the ``ipbus_warning`` ledger, recipient side)."""

    kind = "warning"

    def __init__(self, desk: WarningDesk) -> None:
        self._desk = desk

    async def items(self, session: AsyncSession) -> list[InboxItem]:
        rows = list(
            await session.exec(
                select(WarningRecord)
                .where(WarningRecord.role == RECIPIENT)
                .order_by(col(WarningRecord.received_at), col(WarningRecord.warning_id))
            )
        )
        acked = await acknowledgements(session, [f"warning:{r.warning_id}" for r in rows])
        return [
            InboxItem(
                item_id=f"warning:{row.warning_id}",
                kind=self.kind,
                sender="coordinator",
                case_id=None,
                state="retracted"
                if row.retracted_at
                else ("acknowledged" if row.acknowledged_at else "delivered"),
                received_at=row.received_at,
                acknowledged_at=acked.get(f"warning:{row.warning_id}"),
                detail={
                    "warning_id": row.warning_id,
                    "category": row.category,
                    "severity": row.severity,
                    "title": row.title,
                    "body": row.body,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
            for row in rows
        ]

    async def exists(self, session: AsyncSession, ref: str) -> bool:
        row = await session.get(WarningRecord, ref)
        return row is not None and row.role == RECIPIENT

    async def on_acknowledged(self, uow: UnitOfWork, ref: str) -> None:
        """The officer's acknowledgement goes to the coordinator (unless already given)."""
        row = await uow.session.get(WarningRecord, ref)
        if row is not None and row.acknowledged_at is None and row.retracted_at is None:
            await self._desk.acknowledge_warning(uow, ref, note="acknowledged via gateway")
