"""Deadline arithmetic, pure: calendar days, working days and a holiday calendar.

Chinese procedural law counts periods the same way in every linkage rule: the day a period
starts is not counted, a period ends at the end of its last day, and a period whose last day
is a public holiday ends on the first working day after it (e.g. Criminal Procedure Law
art. 105, Administrative Procedure Law art. 83). Working-day periods skip weekends and public
holidays but count the weekend days officially made working days (调休). Days are reckoned in
the agencies' local time (UTC+8 by default), not in UTC.

Holidays are not arithmetic: the State Council General Office publishes each year's
arrangement (国务院办公厅关于 YYYY 年部分节假日安排的通知), usually in November of the year
before. The calendar therefore declares the years it covers, one ``[[calendar.year]]`` table
per notice, and a period that needs a day outside them raises :class:`CalendarNotCovered`:
a deadline is refused, never computed with New Year or Spring Festival as working days.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.bus.errors import IpbusError

__all__ = [
    "BusinessCalendar",
    "CalendarNotCovered",
    "CalendarPolicy",
    "CalendarYear",
    "Period",
    "PeriodUnit",
    "due_at",
]


class CalendarNotCovered(IpbusError):
    """A period needs a day of a year whose holiday notice the calendar does not hold."""

    def __init__(self, day: date, covered: frozenset[int]) -> None:
        years = ", ".join(str(year) for year in sorted(covered)) or "no year"
        super().__init__(
            f"the business calendar covers {years}; {day.isoformat()} is outside it "
            f"(add the State Council notice for {day.year} as a [[calendar.year]] table)"
        )
        self.day = day
        self.covered = covered


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


class CalendarYear(BaseModel):
    """One ``[[calendar.year]]`` table: a year's holidays and make-up working weekends, as the
    State Council General Office notice for that year lists them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=8)
    """The notice, e.g. ``国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)``."""
    holidays: list[date] = Field(default_factory=list)
    working_weekends: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _days_of_the_year(self) -> Self:
        for day in (*self.holidays, *self.working_weekends):
            if day.year != self.year:
                raise ValueError(f"{day} is not in {self.year}")
        for day in self.working_weekends:
            if day.weekday() < 5:
                raise ValueError(f"working weekend {day} is not a Saturday or Sunday")
        if both := set(self.holidays) & set(self.working_weekends):
            raise ValueError(f"{min(both)} is both a holiday and a working weekend")
        return self


class CalendarPolicy(BaseModel):
    """Policy table ``[calendar]``: the local offset and one table per covered year."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    utc_offset_hours: float = 8.0
    year: list[CalendarYear] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_table_per_year(self) -> Self:
        years = [table.year for table in self.year]
        if len(set(years)) != len(years):
            raise ValueError("a year has two [[calendar.year]] tables")
        return self

    @property
    def covered_years(self) -> list[int]:
        return sorted(table.year for table in self.year)

    def calendar(self) -> "BusinessCalendar":
        return BusinessCalendar(
            utc_offset=timedelta(hours=self.utc_offset_hours),
            holidays=frozenset(day for table in self.year for day in table.holidays),
            working_weekends=frozenset(
                day for table in self.year for day in table.working_weekends
            ),
            covered_years=frozenset(self.covered_years),
        )


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Which local days are working days, within the years it covers."""

    utc_offset: timedelta = timedelta(hours=8)
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()
    covered_years: frozenset[int] | None = None
    """The years whose notice it holds; ``None`` only for a plain weekday calendar built in
    tests (every year, no holidays). Calendars from the policy file always list theirs."""

    def covers(self, day: date) -> bool:
        return self.covered_years is None or day.year in self.covered_years

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day; :class:`CalendarNotCovered` outside the years."""
        if not self.covers(day):
            raise CalendarNotCovered(day, self.covered_years or frozenset())
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
    """When a period that starts at ``start`` runs out (UTC).

    Raises :class:`CalendarNotCovered` when a day the count needs (a working day counted, the
    last day of a calendar-day period, or a holiday it rolls over) is outside the calendar.
    """
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
