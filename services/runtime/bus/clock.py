"""Business time, injectable so deadlines can be tested without waiting."""

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Where "now" comes from."""

    def now(self) -> datetime: ...

    def read_at(self, wall: datetime) -> datetime:
        """What this clock read when the wall clock read ``wall``.

        JetStream stamps a message with wall time; the replay check needs that moment on
        the clock the sender used (:func:`services.runtime.bus.freshness.stored_on_clock`).
        """
        ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def read_at(self, wall: datetime) -> datetime:
        return wall


class FixedClock:
    """A clock that moves only when told to; for tests.

    It remembers when (in wall time) it was moved, so a message stored before a move is
    read at the time the clock showed then — not pushed forward by the move, which would
    make an event still in flight across the move look days late.
    """

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._moved_at: list[datetime] = []
        """Wall times of the moves, in order."""
        self._before: list[datetime] = []
        """What the clock read up to each move."""

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._moved_at.append(datetime.now(UTC))
        self._before.append(self._now)
        self._now += delta

    def read_at(self, wall: datetime) -> datetime:
        moves = bisect_right(self._moved_at, wall)  # moves made at or before ``wall``
        return self._before[moves] if moves < len(self._before) else self._now
