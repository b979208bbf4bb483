"""What the linkage signals remember: detentions per HS prefix and port, and signals raised."""

from datetime import datetime

from sqlmodel import Field, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.coordinator.store import CoordinatorTable
from services.runtime.storage import UtcTimestamp

__all__ = ["DetentionSeenRecord", "SignalRecord", "detention_times", "last_raised", "mark_raised"]


class DetentionSeenRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_detention_seen"

    detention_id: str = Field(primary_key=True, max_length=26)
    hs_prefix: str = Field(index=True, max_length=10)
    port: str = Field(max_length=200)
    agency_id: str = Field(max_length=63)
    detained_at: datetime = Field(sa_type=UtcTimestamp)


class SignalRecord(CoordinatorTable, table=True):
    """The last time a signal was raised about one subject (a credit code, a prefix@port)."""

    __tablename__ = "coordinator_signal"

    signal: str = Field(primary_key=True, max_length=40)
    subject_key: str = Field(primary_key=True, max_length=255)
    warning_id: str = Field(max_length=26)
    raised_at: datetime = Field(sa_type=UtcTimestamp)


async def detention_times(session: AsyncSession, hs_prefix: str, port: str) -> list[datetime]:
    rows = await session.exec(
        select(DetentionSeenRecord.detained_at).where(
            DetentionSeenRecord.hs_prefix == hs_prefix, DetentionSeenRecord.port == port
        )
    )
    return list(rows)


async def last_raised(session: AsyncSession, signal: str, subject_key: str) -> datetime | None:
    record = await session.get(SignalRecord, (signal, subject_key))
    return None if record is None else record.raised_at


async def mark_raised(
    session: AsyncSession, signal: str, subject_key: str, warning_id: str, now: datetime
) -> None:
    await session.merge(
        SignalRecord(signal=signal, subject_key=subject_key, warning_id=warning_id, raised_at=now)
    )
