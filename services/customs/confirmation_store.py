"""Customs' confirmation windows: one row per detention, in the database, not a timer."""

from datetime import datetime

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.customs.store import CustomsTable
from services.runtime.utc_column import UtcDateTime

__all__ = ["ConfirmationWindowRecord", "lapsed_windows"]


class ConfirmationWindowRecord(CustomsTable, table=True):
    __tablename__ = "customs_confirmation_window"

    detention_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(max_length=26)
    perishable: bool = False
    due_at: datetime = Field(sa_type=UtcDateTime, index=True)
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    lapsed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


async def lapsed_windows(session: AsyncSession, now: datetime) -> list[ConfirmationWindowRecord]:
    """Windows that ran out unconfirmed and have not been acted on yet."""
    rows = await session.exec(
        select(ConfirmationWindowRecord).where(
            col(ConfirmationWindowRecord.due_at) <= now,
            col(ConfirmationWindowRecord.confirmed_at).is_(None),
            col(ConfirmationWindowRecord.lapsed_at).is_(None),
        )
    )
    return list(rows.all())
