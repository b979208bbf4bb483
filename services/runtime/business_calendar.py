"""Deadline arithmetic, pure: calendar days, working days and a holiday calendar.

Chinese procedural law counts periods the same way in every linkage rule: the day a period
starts is not counted, a period ends at the end of its last day, and a period whose last day
is a public holiday ends on the first working day after it (e.g. Criminal Procedure Law
art. 105, Administrative Procedure Law art. 83). Working-day periods skip weekends and public
holidays but count the weekend days officially made working days (调休). Days are reckoned in
the agencies' local time (UTC+8 by default), not in UTC.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BusinessCalendar", "CalendarPolicy", "Period", "PeriodUnit", "due_at"]


class PeriodUnit(StrEnum):
    """How a period is counted."""

    SECONDS = "seconds"
    """Exact elapsed seconds: demos and tests only."""
    HOURS = "hours"
    """Exact elapsed hours (e.g. "acknowledge within 24 h")."""
    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"


class Period(BaseModel):
    """A deadline as the policy file writes it: ``{ amount = 3, unit = "calendar_days" }``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: float = Field(gt=0)
    unit: PeriodUnit

    @model_validator(mode="after")
    def _days_are_whole(self) -> Self:
        if self.unit in (PeriodUnit.CALENDAR_DAYS, PeriodUnit.WORKING_DAYS):
            _whole(self)
        return self

    def describe(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {self.unit.value.replace('_', ' ')}"


class CalendarPolicy(BaseModel):
    """Policy table ``[calendar]``: the local offset, public holidays and working weekends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    utc_offset_hours: float = 8.0
    holidays: list[date] = Field(default_factory=list)
    working_weekends: list[date] = Field(default_factory=list)

    def calendar(self) -> "BusinessCalendar":
        return BusinessCalendar(
            utc_offset=timedelta(hours=self.utc_offset_hours),
            holidays=frozenset(self.holidays),
            working_weekends=frozenset(self.working_weekends),
        )


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Which local days are working days."""

    utc_offset: timedelta = timedelta(hours=8)
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(timezone(self.utc_offset)).date()

    def end_of(self, day: date) -> datetime:
        """The instant a local day ends (24:00 local), in UTC."""
        midnight = datetime.combine(day + timedelta(days=1), time(), timezone(self.utc_offset))
        return midnight.astimezone(UTC)

    def next_working_day(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


def due_at(start: datetime, period: Period, calendar: BusinessCalendar) -> datetime:
    """When a period that starts at ``start`` runs out (UTC)."""
    if start.tzinfo is None:
        raise ValueError("a deadline starts at an aware datetime")
    match period.unit:
        case PeriodUnit.SECONDS:
            return start + timedelta(seconds=period.amount)
        case PeriodUnit.HOURS:
            return start + timedelta(hours=period.amount)
        case PeriodUnit.CALENDAR_DAYS:
            last = calendar.local_date(start) + timedelta(days=_whole(period))
            return calendar.end_of(calendar.next_working_day(last))
        case PeriodUnit.WORKING_DAYS:
            day, left = calendar.local_date(start), _whole(period)
            while left:
                day += timedelta(days=1)
                left -= calendar.is_working_day(day)
            return calendar.end_of(day)


def _whole(period: Period) -> int:
    if period.amount != int(period.amount):
        raise ValueError(f"{period.unit.value} are counted whole, not {period.amount}")
    return int(period.amount)
