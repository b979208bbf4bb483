"""Time in the database: aware UTC in Python, on SQLite and PostgreSQL alike.

A plain ``datetime`` field of a table is sqlmodel's ``UTCDateTime``: ``timestamptz`` on
PostgreSQL, aware UTC in and out, a naive value refused. :class:`UtcDateTime` is the one
column type of our own, for the columns stored as naive UTC (``timestamp``: the deadline,
oversight and customs clock tables were created so); it keeps the same contract in Python.
:func:`as_utc` is the one helper for a value whose offset is not known (naive = UTC).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, TypeDecorator

__all__ = ["UtcDateTime", "UtcTimestamp", "as_utc"]


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out; in the column naive UTC (``sa.DateTime()``), or with
    ``timezone=True`` a ``timestamptz`` (``sa.DateTime(timezone=True)``)."""

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = False) -> None:
        super().__init__(timezone=timezone)
        self.timezone = timezone

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("times stored in a UtcDateTime column must be timezone-aware")
        value = value.astimezone(UTC)
        return value if self.timezone else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


UtcTimestamp = UtcDateTime(timezone=True)
"""A ``timestamptz`` column: what a plain ``datetime`` field already is (prefer that); kept
for the coordinator's tables that still name it."""
