"""The desk's notices in its gateway inbox (kind ``notice``): what customs asked its holders."""

import json

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.gateway import InboxItem, acknowledgements
from services.holders.store import NoticeRecord
from services.sdk import UnitOfWork

__all__ = ["NoticeInbox"]


class NoticeInbox:
    """Customs' notices to the holders the desk represents; no party's data is in them."""

    kind = "notice"

    async def items(self, session: AsyncSession) -> list[InboxItem]:
        rows = list(
            await session.exec(
                select(NoticeRecord).order_by(
                    col(NoticeRecord.received_at), col(NoticeRecord.notice_id)
                )
            )
        )
        acked = await acknowledgements(session, [f"notice:{r.notice_id}" for r in rows])
        return [
            InboxItem(
                item_id=f"notice:{row.notice_id}",
                kind=self.kind,
                sender="coordinator",
                case_id=None,
                state=row.state,
                received_at=row.received_at,
                acknowledged_at=acked.get(f"notice:{row.notice_id}"),
                detail={
                    "notice_id": row.notice_id,
                    "holder": row.holder,
                    "port": row.port,
                    "hs_code": row.hs_code,
                    "quantity": row.quantity,
                    "ip_right": json.loads(row.ip_right),
                    "respond_by": row.respond_by.isoformat() if row.respond_by else None,
                },
            )
            for row in rows
        ]

    async def exists(self, session: AsyncSession, ref: str) -> bool:
        return await session.get(NoticeRecord, ref) is not None

    async def on_acknowledged(self, uow: UnitOfWork, ref: str) -> None:
        """Nothing on the bus: the answer is ``holder.applied`` or ``holder.declined``."""
