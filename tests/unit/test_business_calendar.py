"""Deadline arithmetic: hours, calendar days and working days on the holiday calendar, and
the calendar's end: a period that needs a day of an uncovered year is refused."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from pydantic import ValidationError

from services.runtime.law import (
    BusinessCalendar,
    CalendarNotCovered,
    CalendarPolicy,
    Period,
    PeriodUnit,
    due_at,
    load_policy,
    policy_section,
)

COMMITTED = policy_section(
    load_policy(Path(__file__).parents[2] / "deploy" / "policy.toml"), "calendar", CalendarPolicy
)
# The committed 2026 calendar. Spring Festival: 15–23 February off; Saturday 14 and Saturday
# 28 February worked.
SPRING = COMMITTED.calendar()
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


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


def test_the_committed_2026_table_matches_chinese_calendar_day_by_day() -> None:
    """Cross-check against the chinese-calendar package (its 2026 data is the same notice)."""
    wrong = [
        day
        for day in _days_of(2026)
        if SPRING.is_working_day(day) != chinese_calendar.is_workday(day)
    ]
    assert wrong == []


def test_the_calendar_declares_the_years_it_covers_each_with_its_notice() -> None:
    assert COMMITTED.covered_years == [2026]
    assert "国务院办公厅关于2026年部分节假日安排的通知" in COMMITTED.year[0].source


@pytest.mark.parametrize(
    ("start", "amount", "unit"),
    [
        ("2026-12-30 02:00", 3, "working_days"),  # 31 Dec, then 2027
        ("2026-12-29 02:00", 3, "calendar_days"),  # last day 1 January 2027
        ("2026-12-31 16:30", 1, "calendar_days"),  # already 1 January 2027 in Shanghai
        ("2026-11-30 02:00", 50, "working_days"),  # a customs release clock started today
    ],
)
def test_a_period_past_the_covered_years_is_refused_not_computed(
    start: str, amount: int, unit: str
) -> None:
    with pytest.raises(CalendarNotCovered, match=r"covers 2026; 2027-01-0\d is outside it"):
        due_at(utc(start), period(amount, unit), SPRING)


@pytest.mark.parametrize(
    ("start", "amount", "unit", "due"),
    [
        ("2026-12-30 02:00", 1, "working_days", "2026-12-31 16:00"),  # the last covered day
        ("2026-12-28 02:00", 3, "calendar_days", "2026-12-31 16:00"),
        ("2026-12-31 02:00", 20, "hours", "2026-12-31 22:00"),  # hours need no calendar
        ("2026-12-31 02:00", 48, "hours", "2027-01-02 02:00"),
    ],
)
def test_a_period_that_ends_inside_the_covered_years_is_computed(
    start: str, amount: int, unit: str, due: str
) -> None:
    assert due_at(utc(start), period(amount, unit), SPRING) == utc(due)


def test_a_period_started_before_the_covered_years_counts_only_covered_days() -> None:
    # 30 Dec 2025 + 3 calendar days = 2 Jan 2026, a holiday: it runs to Sunday 4 January,
    # a make-up working day; no 2025 day was needed.
    assert due_at(utc("2025-12-30 02:00"), period(3, "calendar_days"), SPRING) == utc(
        "2026-01-04 16:00"
    )
    with pytest.raises(CalendarNotCovered, match="2025-12-31"):
        due_at(utc("2025-12-30 02:00"), period(1, "working_days"), SPRING)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"year": 2027, "source": "a notice of 2026", "holidays": ["2026-10-01"]}, "not in 2027"),
        (
            {"year": 2026, "source": "a notice of 2025", "working_weekends": ["2026-03-02"]},
            "not a Saturday or Sunday",
        ),
        (
            {
                "year": 2026,
                "source": "a notice of 2025",
                "holidays": ["2026-02-14"],
                "working_weekends": ["2026-02-14"],
            },
            "both a holiday and a working weekend",
        ),
    ],
)
def test_a_malformed_year_table_is_refused_when_the_policy_loads(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarPolicy.model_validate({"year": [table]})


def test_a_year_listed_twice_is_refused() -> None:
    table = {"year": 2026, "source": "a notice of 2025"}
    with pytest.raises(ValidationError, match="two"):
        CalendarPolicy.model_validate({"year": [table, table]})


def test_a_calendar_with_no_year_refuses_every_day_count() -> None:
    empty = CalendarPolicy().calendar()
    with pytest.raises(CalendarNotCovered, match="covers no year"):
        due_at(utc("2026-03-02 02:00"), period(1, "calendar_days"), empty)


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
