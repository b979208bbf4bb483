"""The rights holder's confirmation window: 10 working days, 3 for perishable goods."""

from datetime import UTC, date, datetime

import pytest

from services.customs.confirmation import ConfirmationPolicy, confirmation_due, release_reason
from services.runtime.business_calendar import CalendarPolicy

POLICY = ConfirmationPolicy()
LABOUR_DAY = CalendarPolicy(
    holidays=[date(2026, 5, d) for d in range(1, 6)], working_weekends=[date(2026, 5, 9)]
).calendar()


@pytest.mark.parametrize(
    ("detained", "perishable", "due"),
    [
        ("2026-03-02T02:00", False, "2026-03-16T16:00"),  # Monday + 10 working days
        ("2026-03-02T02:00", True, "2026-03-05T16:00"),  # ... perishable: 3
        ("2026-03-06T02:00", True, "2026-03-11T16:00"),  # Friday: the weekend does not count
        ("2026-04-30T02:00", True, "2026-05-08T16:00"),  # Labour Day off: 6, 7, 8 May
        ("2026-04-30T02:00", False, "2026-05-18T16:00"),  # 6–9 May (9th worked), 11–15, 18
    ],
)
def test_the_window_counts_working_days_on_the_holiday_calendar(
    detained: str, perishable: bool, due: str
) -> None:
    start = datetime.fromisoformat(detained).replace(tzinfo=UTC)
    assert confirmation_due(
        start, perishable=perishable, policy=POLICY, calendar=LABOUR_DAY
    ) == datetime.fromisoformat(due).replace(tzinfo=UTC)


def test_the_release_says_why_in_words() -> None:
    assert release_reason(perishable=True, policy=POLICY) == (
        "the rights holder did not confirm the detention of perishable goods within 3 working days"
    )
