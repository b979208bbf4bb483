"""Deadline arithmetic: hours, calendar days and working days on a holiday calendar."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from services.runtime.business_calendar import (
    BusinessCalendar,
    CalendarPolicy,
    Period,
    PeriodUnit,
    due_at,
)

# Spring Festival 2026: 15–23 February off; Saturday 14 and Saturday 28 February worked.
SPRING = CalendarPolicy(
    holidays=[date(2026, 2, d) for d in range(15, 24)],
    working_weekends=[date(2026, 2, 14), date(2026, 2, 28)],
).calendar()
PLAIN = BusinessCalendar()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def period(amount: float, unit: str) -> Period:
    return Period(amount=amount, unit=PeriodUnit(unit))


@pytest.mark.parametrize(
    ("start", "amount", "unit", "calendar", "due"),
    [
        # exact elapsed time
        ("2026-03-02 02:00", 24, "hours", PLAIN, "2026-03-03 02:00"),
        ("2026-03-02 02:00", 3, "seconds", PLAIN, "2026-03-02 02:00:03"),
        # calendar days: start day not counted, ends 24:00 Shanghai (16:00 UTC) of the last day
        ("2026-03-02 02:00", 3, "calendar_days", PLAIN, "2026-03-05 16:00"),
        # 23:30 UTC on 2 March is already 3 March in Shanghai
        ("2026-03-02 23:30", 3, "calendar_days", PLAIN, "2026-03-06 16:00"),
        # last day a Saturday: the period ends on the next working day (Monday)
        ("2026-03-04 02:00", 3, "calendar_days", PLAIN, "2026-03-09 16:00"),
        # last day inside the Spring Festival: ends on 24 February, the first day back
        ("2026-02-13 02:00", 3, "calendar_days", SPRING, "2026-02-24 16:00"),
        # working days skip the weekend
        ("2026-03-06 02:00", 1, "working_days", PLAIN, "2026-03-09 16:00"),
        ("2026-03-02 02:00", 10, "working_days", PLAIN, "2026-03-16 16:00"),
        # ... skip the holidays and count the make-up Saturdays (14 and 28 February)
        ("2026-02-12 02:00", 1, "working_days", SPRING, "2026-02-13 16:00"),
        ("2026-02-13 02:00", 1, "working_days", SPRING, "2026-02-14 16:00"),
        ("2026-02-13 02:00", 2, "working_days", SPRING, "2026-02-24 16:00"),
        ("2026-02-13 02:00", 3, "working_days", SPRING, "2026-02-25 16:00"),
        ("2026-02-20 02:00", 5, "working_days", SPRING, "2026-02-28 16:00"),
        # 14 Feb, 24–28 Feb (28th a make-up Saturday), 2–5 Mar
        ("2026-02-13 02:00", 10, "working_days", SPRING, "2026-03-05 16:00"),
    ],
)
def test_a_period_runs_out_when_the_law_says(
    start: str, amount: float, unit: str, calendar: BusinessCalendar, due: str
) -> None:
    assert due_at(utc(start), period(amount, unit), calendar) == utc(due)


def test_a_weekend_is_not_a_working_day_unless_made_one() -> None:
    assert not PLAIN.is_working_day(date(2026, 2, 14))
    assert SPRING.is_working_day(date(2026, 2, 14))
    assert not SPRING.is_working_day(date(2026, 2, 16))
    assert SPRING.is_working_day(date(2026, 2, 24))


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        (1.5, "working_days", "counted whole"),
        (0, "hours", "greater than 0"),
        (3, "fortnights", "Input should be"),
    ],
)
def test_a_bad_period_is_refused_when_the_policy_loads(
    amount: float, unit: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Period.model_validate({"amount": amount, "unit": unit})


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_at(datetime(2026, 3, 2), period(1, "hours"), PLAIN)


def test_the_policy_describes_a_period_in_words() -> None:
    assert period(3, "calendar_days").describe() == "3 calendar days"
    assert period(0.5, "seconds").describe() == "0.5 seconds"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.42, "0.4s"), (750, "12m 30s"), (4 * 3600 + 300, "4h 05m"), (2 * 86400 + 3 * 3600, "2d 3h")],
)
def test_lateness_is_shown_to_the_unit_that_matters(seconds: float, shown: str) -> None:
    from services.cli.referrals import lateness

    assert lateness(seconds) == shown
