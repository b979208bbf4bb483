"""Which stage a step opens, for how long, and when it is met — every stage × state."""

import itertools
from datetime import UTC, datetime

import pytest

from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.coordinator.deadlines import DeadlinePolicy, deadlines_opened, is_met
from services.runtime.business_calendar import BusinessCalendar, Period, PeriodUnit

G, S = ReferralStage, ReferralState
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CALENDAR = BusinessCalendar()

# Written out by hand: the states in which the recipient still owes each stage.
OWED = {
    G.ACKNOWLEDGE: {S.ISSUED},
    G.DECIDE: {S.ISSUED, S.ACKNOWLEDGED},
    G.RECONSIDER: {S.RECONSIDERING},
    G.EXPLAIN: {S.SUPERVISED},
    G.FILE: {S.FILING_NOTIFIED},
    G.OVERSIGHT_REPLY: set(),  # owed on an oversight, never in a referral state
}


@pytest.mark.parametrize(("stage", "state"), list(itertools.product(G, S)))
def test_a_stage_is_met_exactly_when_the_referral_leaves_the_states_that_owe_it(
    stage: ReferralStage, state: ReferralState
) -> None:
    assert is_met(stage, state) is (state not in OWED[stage])


@pytest.mark.parametrize(
    ("kind", "event_type", "expected"),
    [
        (
            ReferralKind.ADMIN_TO_CRIMINAL,
            "referral.issued",
            {G.ACKNOWLEDGE: "2026-03-03T02:00", G.DECIDE: "2026-03-05T16:00"},
        ),
        (
            ReferralKind.MEDIATION_CONFIRMATION,
            "referral.issued",
            {G.ACKNOWLEDGE: "2026-03-03T02:00", G.DECIDE: "2026-03-17T16:00"},
        ),
        (
            ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            "referral.issued",
            {G.ACKNOWLEDGE: "2026-03-03T02:00", G.DECIDE: "2026-04-01T16:00"},
        ),
        (
            ReferralKind.ADMIN_TO_CRIMINAL,
            "referral.reconsideration_requested",
            {G.RECONSIDER: "2026-03-05T16:00"},
        ),
        (
            ReferralKind.ADMIN_TO_CRIMINAL,
            "referral.supervision_opened",
            {G.EXPLAIN: "2026-03-09T16:00"},
        ),
        (ReferralKind.ADMIN_TO_CRIMINAL, "referral.filing_notified", {G.FILE: "2026-03-17T16:00"}),
        (ReferralKind.ADMIN_TO_CRIMINAL, "referral.acknowledged", {}),
        (ReferralKind.ADMIN_TO_CRIMINAL, "referral.declined", {}),
        (ReferralKind.ADMIN_TO_CRIMINAL, "referral.accepted", {}),
    ],
)
def test_the_law_s_default_deadlines(
    kind: ReferralKind, event_type: str, expected: dict[ReferralStage, str]
) -> None:
    opened = deadlines_opened(kind, event_type, MONDAY, DeadlinePolicy(), CALENDAR)
    assert {d.stage: d.due_at for d in opened} == {
        stage: datetime.fromisoformat(due).replace(tzinfo=UTC) for stage, due in expected.items()
    }


def test_a_policy_overrides_a_stage_per_kind_and_keeps_the_law_for_the_rest() -> None:
    policy = DeadlinePolicy.model_validate(
        {
            "default": {"acknowledge": {"amount": 2, "unit": "hours"}},
            "kinds": {"customs_to_criminal": {"decide": {"amount": 5, "unit": "working_days"}}},
        }
    )
    assert policy.period(ReferralKind.CUSTOMS_TO_CRIMINAL, G.DECIDE) == Period(
        amount=5, unit=PeriodUnit.WORKING_DAYS
    )
    assert policy.period(ReferralKind.ADMIN_TO_CRIMINAL, G.ACKNOWLEDGE) == Period(
        amount=2, unit=PeriodUnit.HOURS
    )
    assert policy.period(ReferralKind.ADMIN_TO_CRIMINAL, G.EXPLAIN) == Period(
        amount=7, unit=PeriodUnit.CALENDAR_DAYS
    )
    # a kind the table leaves out keeps the law's period for it (3 days), not the default
    assert policy.period(ReferralKind.ADMIN_TO_CRIMINAL, G.DECIDE) == Period(
        amount=3, unit=PeriodUnit.CALENDAR_DAYS
    )
    assert policy.period(ReferralKind.OVERSEAS_ASSISTANCE, G.DECIDE) == Period(
        amount=30, unit=PeriodUnit.CALENDAR_DAYS
    )


def test_the_committed_policy_file_loads() -> None:
    from pathlib import Path

    from services.runtime.business_calendar import CalendarPolicy
    from services.runtime.policy import load_policy, policy_section

    for name in ("policy.toml", "demo-policy.toml"):
        policy = load_policy(Path(__file__).parents[2] / "deploy" / name)
        loaded = policy_section(policy, "referral_deadlines", DeadlinePolicy)
        assert loaded.period(ReferralKind.ADMIN_TO_CRIMINAL, G.DECIDE).amount in (3, 600)
        policy_section(policy, "calendar", CalendarPolicy)


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [
        ("2026-03-02T03:00", True),
        ("2026-03-05T15:59", True),  # the third day, 23:59 in Shanghai
        ("2026-03-05T16:01", False),
        ("2026-03-20T00:00", False),
    ],
)
def test_reconsideration_must_be_asked_within_three_days_of_the_decline(
    asked: str, allowed: bool
) -> None:
    from services.runtime.errors import StepRefused
    from services.runtime.referral_linkage import ReferralWindows, check_reconsideration_window

    declined = datetime(2026, 3, 2, 2, 0)  # naive, as read back from a database column
    when = datetime.fromisoformat(asked).replace(tzinfo=UTC)
    if allowed:
        check_reconsideration_window(declined, when, ReferralWindows(), CALENDAR)
    else:
        with pytest.raises(StepRefused, match="within 3 calendar days of the decline"):
            check_reconsideration_window(declined, when, ReferralWindows(), CALENDAR)
