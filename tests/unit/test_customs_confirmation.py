"""China's customs clocks pinned to the Regulations on Customs Protection of IPR (Decree 395,
rev. 2018): 3 working days to apply and post a bond after customs' notice (art. 16), 30 to
investigate (art. 20), release after 20 (art. 24(1)) or 50 (art. 24(2)) working days without
a court's assistance notice. No perishable-goods clock: that was EU law."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.customs.confirmation import (
    CustomsClock,
    CustomsSettings,
    clock_due,
    release_reason,
)
from services.runtime.law import (
    RuleBook,
    load_policy,
    policy_calendar,
    policy_section,
)

C = CustomsClock
POLICY = load_policy(Path(__file__).parents[2] / "deploy" / "policy.toml")
RULES = RuleBook.from_policy(POLICY)
CALENDAR = policy_calendar(POLICY)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("clock", "start", "due"),
    [
        # art. 16: 3 working days from Monday 2 March → Thursday 5 March, 24:00 Shanghai
        (C.APPLICATION_AND_BOND, "2026-03-02 02:00", "2026-03-05 16:00"),
        # ... across Labour Day (1–5 May): Thursday 30 April → 6, 7, 8 May
        (C.APPLICATION_AND_BOND, "2026-04-30 02:00", "2026-05-08 16:00"),
        # ... counting the make-up Saturday 9 May: Wednesday 6 May → 7, 8, 9 May
        (C.APPLICATION_AND_BOND, "2026-05-06 02:00", "2026-05-09 16:00"),
        # ... the make-up Sunday 20 September and Saturday 10 October
        (C.APPLICATION_AND_BOND, "2026-09-18 02:00", "2026-09-22 16:00"),
        (C.APPLICATION_AND_BOND, "2026-10-09 02:00", "2026-10-13 16:00"),
        # art. 20: 30 working days from Monday 2 March, across Qingming
        (C.INVESTIGATION, "2026-03-02 02:00", "2026-04-14 16:00"),
        # art. 24(1): 20 working days
        (C.COURT_NOTICE_ON_APPLICATION, "2026-03-02 02:00", "2026-03-30 16:00"),
        # ... the last one that ends inside 2026: 29 December
        (C.COURT_NOTICE_ON_APPLICATION, "2026-12-01 02:00", "2026-12-29 16:00"),
        # art. 24(2): 50 working days, across Qingming and Labour Day
        (C.COURT_NOTICE_EX_OFFICIO, "2026-03-02 02:00", "2026-05-14 16:00"),
    ],
)
def test_each_customs_clock_runs_out_when_the_article_says(
    clock: CustomsClock, start: str, due: str
) -> None:
    found = clock_due(clock, utc(start), RULES, CALENDAR)
    assert found.due_at == utc(due)
    assert found.problem is None
    assert found.rule_version == f"{clock.value}@2018-03-19"
    assert "Decree 395" in found.source


@pytest.mark.parametrize(
    ("clock", "start"),
    [
        (C.COURT_NOTICE_ON_APPLICATION, "2026-12-04 02:00"),  # the 20th working day is in 2027
        (C.COURT_NOTICE_EX_OFFICIO, "2026-11-30 02:00"),
        (C.INVESTIGATION, "2026-12-01 02:00"),
        (C.APPLICATION_AND_BOND, "2026-12-30 02:00"),
    ],
)
def test_a_clock_past_the_covered_years_is_not_computable(clock: CustomsClock, start: str) -> None:
    found = clock_due(clock, utc(start), RULES, CALENDAR)
    assert found.due_at is None
    assert found.problem is not None
    assert "covers 2026" in found.problem


def test_every_customs_rule_of_the_policy_file_is_a_clock() -> None:
    customs_rules = {rule.name for rule in RULES.all_in_force(date(2026, 3, 2))}
    clocks = {n for n in customs_rules if n.startswith("customs.")} - {"customs.bond.ex_officio"}
    assert {c.value for c in C} == clocks


def test_the_release_says_why_and_under_which_rule() -> None:
    assert release_reason(
        C.APPLICATION_AND_BOND, "3 working days", "customs.application_and_bond@2018-03-19"
    ) == (
        "the right holder did not apply for detention and post a bond within 3 working days "
        "of customs' notice (customs.application_and_bond@2018-03-19)"
    )


def test_the_customs_table_holds_only_operational_knobs() -> None:
    assert policy_section(POLICY, "customs", CustomsSettings).watch_seconds == 60
    assert "customs_confirmation" not in POLICY
