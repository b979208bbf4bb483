"""Customs' clocks: one row per detention and clock, in the database, not a timer.

A row is ``running`` until the step it waits for happens (``met``: the application and bond,
a court's assistance notice, the determination) or the watcher finds it run out
(``lapsed``). ``not_computable`` rows (the calendar does not cover the year) are retried by
the watcher with the calendar the service started with, and alerted on meanwhile.
"""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.customs.store import CustomsTable
from services.runtime.storage import UtcDateTime

__all__ = ["ClockStatus", "CustomsClockRecord", "clocks_of", "lapsed_clocks"]


class ClockStatus(StrEnum):
    RUNNING = "running"
    MET = "met"
    LAPSED = "lapsed"
    NOT_COMPUTABLE = "not_computable"


class CustomsClockRecord(CustomsTable, table=True):
    __tablename__ = "customs_clock"

    detention_id: str = Field(primary_key=True, max_length=26)
    clock: str = Field(primary_key=True, max_length=60)
    case_id: str = Field(max_length=26)
    started_at: datetime = Field(sa_type=UtcDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    period: str = Field(max_length=60)
    rule_version: str = Field(max_length=120)
    status: str = Field(default=ClockStatus.RUNNING.value, max_length=16, index=True)
    problem: str | None = None
    settled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


async def lapsed_clocks(session: AsyncSession, now: datetime) -> list[CustomsClockRecord]:
    """Running clocks that have run out and have not been acted on yet, earliest first."""
    rows = await session.exec(
        select(CustomsClockRecord)
        .where(
            col(CustomsClockRecord.status) == ClockStatus.RUNNING.value,
            col(CustomsClockRecord.due_at) <= now,
        )
        .order_by(col(CustomsClockRecord.due_at))
    )
    return list(rows.all())


async def clocks_of(session: AsyncSession, detention_id: str) -> list[CustomsClockRecord]:
    rows = await session.exec(
        select(CustomsClockRecord).where(CustomsClockRecord.detention_id == detention_id)
    )
    return list(rows.all())
