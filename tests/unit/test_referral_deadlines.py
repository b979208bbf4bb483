"""Referral deadlines pinned to the texts: one test per rule and per boundary.

Every period comes from the committed policy file's ``[[rule]]`` tables; the expected due
times are worked out by hand from the article and the 2026 State Council notice. Due times
are 24:00 Shanghai (16:00 UTC) of the last day; the watcher declares a deadline overdue at
``now >= due_at`` (the first overdue moment), so one microsecond earlier it is still met.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.coordinator.deadlines.rules import (
    DeadlineClock,
    DeadlineSettings,
    DeadlineStepRefused,
    deadlines_opened,
    excluded_between,
    extension_rule,
    is_met,
    next_limit,
    stage_rule,
)
from services.runtime.law import (
    Period,
    PeriodUnit,
    Rule,
    RuleBook,
    load_policy,
    policy_calendar,
    policy_section,
)

G, S, K = ReferralStage, ReferralState, ReferralKind
ROOT = Path(__file__).parents[2]
POLICY = load_policy(ROOT / "deploy" / "policy.toml")
RULES = RuleBook.from_policy(POLICY)
CALENDAR = policy_calendar(POLICY)
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

# Written out by hand: the states in which the recipient still owes each stage.
OWED = {
    G.ACKNOWLEDGE: {S.ISSUED},
    G.DECIDE: {S.ISSUED, S.ACKNOWLEDGED},
    G.RECONSIDER: {S.RECONSIDERING},
    G.EXPLAIN: {S.SUPERVISED},
    G.FILE: {S.FILING_NOTIFIED},
    G.CONCLUDE: {S.ACCEPTED},
    G.OVERSIGHT_REPLY: set(),  # owed on an oversight, never in a referral state
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("stage", "state"), list(itertools.product(G, S)))
def test_a_stage_is_met_exactly_when_the_referral_leaves_the_states_that_owe_it(
    stage: ReferralStage, state: ReferralState
) -> None:
    assert is_met(stage, state) is (state not in OWED[stage])


def _opened(kind: ReferralKind, step: str, at: datetime) -> dict[ReferralStage, datetime | None]:
    return {d.stage: d.due_at for d in deadlines_opened(kind, step, at, RULES, CALENDAR)}


# (rule, kind, step, start, stage, due): one row per rule of the policy file's referral part.
PINNED = [
    # ipbus policy (not law): a delivery receipt within 24 hours
    ("referral.acknowledge", K.ADMIN_TO_CRIMINAL, "referral.issued", MONDAY, G.ACKNOWLEDGE,
     "2026-03-03 02:00"),
    # Decree 310 art. 8: 3 days; Monday 10:00 → Thursday 24:00
    ("referral.decide.admin_to_criminal", K.ADMIN_TO_CRIMINAL, "referral.issued", MONDAY,
     G.DECIDE, "2026-03-05 16:00"),
    ("referral.decide.customs_to_criminal", K.CUSTOMS_TO_CRIMINAL, "referral.issued", MONDAY,
     G.DECIDE, "2026-03-05 16:00"),
    # SAMR procedure art. 18: 15 working days; from Monday 30 March across Qingming (4–6 April)
    ("referral.decide.customs_to_enforcement", K.CUSTOMS_TO_ENFORCEMENT, "referral.issued",
     utc("2026-03-30 02:00"), G.DECIDE, "2026-04-21 16:00"),
    ("referral.decide.criminal_to_admin", K.CRIMINAL_TO_ADMIN, "referral.issued",
     utc("2026-03-30 02:00"), G.DECIDE, "2026-04-21 16:00"),
    # SPC 法释〔2011〕5号 art. 4: accept within 3 days; art. 5: decide within 15 of acceptance
    ("referral.decide.mediation_confirmation", K.MEDIATION_CONFIRMATION, "referral.issued",
     MONDAY, G.DECIDE, "2026-03-05 16:00"),
    ("referral.conclude.mediation_confirmation", K.MEDIATION_CONFIRMATION, "referral.accepted",
     MONDAY, G.CONCLUDE, "2026-03-17 16:00"),
    # SAMR procedure, assistance letter: 15 working days, across Qingming (4–6 April)
    ("referral.decide.regulator_assistance", K.REGULATOR_ASSISTANCE, "referral.issued",
     utc("2026-03-30 02:00"), G.DECIDE, "2026-04-21 16:00"),
    ("referral.conclude.regulator_assistance", K.REGULATOR_ASSISTANCE, "referral.accepted",
     utc("2026-03-30 02:00"), G.CONCLUDE, "2026-04-21 16:00"),
    # ipbus policy: kinds without a statutory period
    ("referral.decide", K.OVERSEAS_ASSISTANCE, "referral.issued", MONDAY, G.DECIDE,
     "2026-04-01 16:00"),
    # Decree 310 art. 9: reconsideration answered within 3 days
    ("referral.reconsider", K.ADMIN_TO_CRIMINAL, "referral.reconsideration_requested", MONDAY,
     G.RECONSIDER, "2026-03-05 16:00"),
    # six agencies on the CPL (2012) art. 18: explain within 7 days, file within 15
    ("referral.explain", K.ADMIN_TO_CRIMINAL, "referral.supervision_opened", MONDAY, G.EXPLAIN,
     "2026-03-09 16:00"),
    ("referral.file", K.ADMIN_TO_CRIMINAL, "referral.filing_notified", MONDAY, G.FILE,
     "2026-03-17 16:00"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "kind", "step", "start", "stage", "due"), PINNED)
def test_each_rule_sets_the_due_time_its_article_gives(
    rule: str, kind: ReferralKind, step: str, start: datetime, stage: ReferralStage, due: str
) -> None:
    [opened] = [d for d in deadlines_opened(kind, step, start, RULES, CALENDAR) if d.stage == stage]
    assert opened.rule_version == RULES.in_force(rule, start.date()).version
    assert opened.due_at == utc(due)
    # the last moment in time, and the first overdue moment (the watcher: due_at <= now)
    assert not opened.due_at <= utc(due) - timedelta(microseconds=1)
    assert opened.due_at <= utc(due)


def test_every_referral_rule_of_the_policy_file_is_pinned_above() -> None:
    pinned = {row[0] for row in PINNED}
    periods = {rule.name for rule in RULES if rule.name.split(".")[0] == "referral"}
    assert periods == pinned


@pytest.mark.parametrize(
    ("kind", "event_type", "stages"),
    [
        (K.ADMIN_TO_CRIMINAL, "referral.issued", {G.ACKNOWLEDGE, G.DECIDE}),
        (K.ADMIN_TO_CRIMINAL, "referral.acknowledged", set()),
        (K.ADMIN_TO_CRIMINAL, "referral.declined", set()),
        (K.ADMIN_TO_CRIMINAL, "referral.accepted", set()),  # no conclude rule for transfers
        (K.MEDIATION_CONFIRMATION, "referral.accepted", {G.CONCLUDE}),
    ],
)
def test_a_step_opens_only_the_stages_a_rule_covers(
    kind: ReferralKind, event_type: str, stages: set[ReferralStage]
) -> None:
    assert set(_opened(kind, event_type, MONDAY)) == stages


def test_a_calendar_day_period_ending_in_a_holiday_runs_to_the_make_up_working_day() -> None:
    # issued Thursday 1 January (holiday) 10:00: 3 days → Sunday 4 January, a make-up day
    due = _opened(K.ADMIN_TO_CRIMINAL, "referral.issued", utc("2026-01-01 02:00"))
    assert due[G.DECIDE] == utc("2026-01-04 16:00")
    # across the Spring Festival: issued Thursday 12 February → last day 15 February, off until
    # 23 February: the period runs to Tuesday 24 February
    due = _opened(K.ADMIN_TO_CRIMINAL, "referral.issued", utc("2026-02-12 02:00"))
    assert due[G.DECIDE] == utc("2026-02-24 16:00")


def test_a_working_day_period_counts_the_make_up_saturday() -> None:
    # from Friday 8 May: Saturday 9 May is worked; 15 working days end Thursday 28 May
    due = _opened(K.CUSTOMS_TO_ENFORCEMENT, "referral.issued", utc("2026-05-08 02:00"))
    assert due[G.DECIDE] == utc("2026-05-28 16:00")


def test_the_date_of_the_act_is_the_local_day_of_the_step() -> None:
    # 23:30 UTC on 2 March is 3 March in Shanghai: 3 days end 6 March
    due = _opened(K.ADMIN_TO_CRIMINAL, "referral.issued", utc("2026-03-02 23:30"))
    assert due[G.DECIDE] == utc("2026-03-06 16:00")


def test_a_deadline_past_the_covered_years_is_not_computable_and_says_why() -> None:
    opened = deadlines_opened(
        K.ADMIN_TO_CRIMINAL, "referral.issued", utc("2026-12-30 02:00"), RULES, CALENDAR
    )
    by_stage = {d.stage: d for d in opened}
    assert by_stage[G.ACKNOWLEDGE].due_at == utc("2026-12-31 02:00")  # hours: computable
    decide = by_stage[G.DECIDE]
    assert decide.due_at is None
    assert decide.problem is not None
    assert "2027-01-02 is outside it" in decide.problem
    assert decide.rule_version == "referral.decide.admin_to_criminal@2020-08-07"


def test_the_version_in_force_on_the_date_of_the_act_applies() -> None:
    book = RuleBook.from_policy(
        {
            "rule": [
                {"name": "referral.decide", "values": {"amount": 30, "unit": "calendar_days"},
                 "source": "Old text art. 1", "effective_from": "2020-01-01"},
                {"name": "referral.decide", "values": {"amount": 10, "unit": "calendar_days"},
                 "source": "New text art. 1", "effective_from": "2026-03-03"},
            ]
        }
    )  # fmt: skip
    before = deadlines_opened(K.OVERSEAS_ASSISTANCE, "referral.issued", MONDAY, book, CALENDAR)
    after = deadlines_opened(
        K.OVERSEAS_ASSISTANCE, "referral.issued", utc("2026-03-02 16:00"), book, CALENDAR
    )  # 00:00 on 3 March in Shanghai: the new text
    assert [(d.rule_version, d.due_at) for d in before] == [
        ("referral.decide@2020-01-01", utc("2026-04-01 16:00"))
    ]
    assert [d.rule_version for d in after] == ["referral.decide@2026-03-03"]


def test_a_kind_specific_rule_wins_over_the_general_one() -> None:
    rule = stage_rule(RULES, K.ADMIN_TO_CRIMINAL, G.DECIDE, date(2026, 3, 2))
    assert rule is not None
    assert rule.name == "referral.decide.admin_to_criminal"
    assert stage_rule(RULES, K.ADMIN_TO_CRIMINAL, G.CONCLUDE, date(2026, 3, 2)) is None


# -- extensions -------------------------------------------------------------------------


def _limits(kind: ReferralKind, stage: ReferralStage) -> list[float]:
    found = extension_rule(RULES, kind, stage, date(2026, 3, 2))
    assert found is not None
    current = RULES.in_force(f"referral.{stage.value}.{kind.value}", date(2026, 3, 2))
    period, limits = current.values_as(Period), []
    for _ in found[1].limits:
        period = next_limit(period, found[1], "the stage")
        limits.append(period.amount)
    with pytest.raises(DeadlineStepRefused, match="longest lawful period"):
        next_limit(period, found[1], "the stage")
    return limits


@pytest.mark.parametrize(
    ("kind", "stage", "limits"),
    [
        # 公通字〔2017〕25号 art. 16: at the latest 10 days; 30 with approval; 30 more
        (K.ADMIN_TO_CRIMINAL, G.DECIDE, [10, 30, 60]),
        (K.CUSTOMS_TO_CRIMINAL, G.DECIDE, [10, 30, 60]),
        # SAMR procedure art. 18: 15 working days more, once
        (K.CUSTOMS_TO_ENFORCEMENT, G.DECIDE, [30]),
        (K.CRIMINAL_TO_ADMIN, G.DECIDE, [30]),
        # 法释〔2011〕5号 art. 5: 10 days more, once
        (K.MEDIATION_CONFIRMATION, G.CONCLUDE, [25]),
    ],
)
def test_an_extension_goes_to_the_next_lawful_limit_and_no_further(
    kind: ReferralKind, stage: ReferralStage, limits: list[float]
) -> None:
    assert _limits(kind, stage) == limits


def test_a_stage_without_an_extension_rule_cannot_be_extended() -> None:
    assert extension_rule(RULES, K.ADMIN_TO_CRIMINAL, G.EXPLAIN, date(2026, 3, 2)) is None
    with pytest.raises(DeadlineStepRefused, match="no rule allows extending"):
        next_limit(Period(amount=7, unit=PeriodUnit.CALENDAR_DAYS), None, "explain")


def test_an_extended_regulator_check_ends_on_the_thirtieth_working_day() -> None:
    # from Monday 30 March: 30 working days across Qingming and Labour Day (9 May worked)
    clock = DeadlineClock(utc("2026-03-30 02:00"), Period(amount=30, unit=PeriodUnit.WORKING_DAYS))
    assert clock.due(CALENDAR) == utc("2026-05-14 16:00")


def test_an_extended_mediation_decision_ends_on_day_25_of_acceptance() -> None:
    clock = DeadlineClock(MONDAY, Period(amount=25, unit=PeriodUnit.CALENDAR_DAYS))
    assert clock.due(CALENDAR) == utc("2026-03-27 16:00")


# -- clock stops --------------------------------------------------------------------------


def test_a_stopped_clock_adds_the_working_days_it_stood_still() -> None:
    # stopped Thursday 2 April for an appraisal, resumed Thursday 9 April; Qingming (4–6
    # April) was not a working day anyway
    stood = excluded_between(
        utc("2026-04-02 02:00"), utc("2026-04-09 02:00"), PeriodUnit.WORKING_DAYS, CALENDAR
    )
    assert stood == 4.0  # Friday 3, Tuesday 7, Wednesday 8, Thursday 9 April
    clock = DeadlineClock(
        utc("2026-03-30 02:00"), Period(amount=15, unit=PeriodUnit.WORKING_DAYS), excluded=stood
    )
    assert clock.due(CALENDAR) == utc("2026-04-27 16:00")  # 19 working days from 30 March


@pytest.mark.parametrize(
    ("unit", "stood"),
    [
        (PeriodUnit.CALENDAR_DAYS, 7.0),
        (PeriodUnit.HOURS, 7 * 24.0),
        (PeriodUnit.SECONDS, 7 * 86400.0),
    ],
)
def test_stopped_time_is_counted_in_the_period_s_own_unit(unit: PeriodUnit, stood: float) -> None:
    stopped, resumed = utc("2026-04-02 02:00"), utc("2026-04-09 02:00")
    assert excluded_between(stopped, resumed, unit, CALENDAR) == stood


def test_the_committed_policy_files_load() -> None:
    for name in ("policy.toml", "demo-policy.toml"):
        policy = load_policy(ROOT / "deploy" / name)
        policy_section(policy, "referral_deadlines", DeadlineSettings)
        book = RuleBook.from_policy(policy)
        rule = book.in_force("referral.decide.customs_to_criminal", date(2026, 3, 2))
        assert rule.values_as(Period).amount in (3,)


def test_the_demo_policy_keeps_the_real_calendar_and_every_real_rule_it_does_not_shorten() -> None:
    demo = load_policy(ROOT / "deploy" / "demo-policy.toml")
    assert demo["calendar"] == POLICY["calendar"]
    names = {rule.name for rule in RuleBook.from_policy(demo)}
    assert names == {rule.name for rule in RULES}


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
    from services.runtime.bus import StepRefused
    from services.sdk import check_reconsideration_window

    declined = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # columns read back aware (UTC)
    when = datetime.fromisoformat(asked).replace(tzinfo=UTC)
    if allowed:
        check_reconsideration_window(declined, when, RULES, CALENDAR)
    else:
        with pytest.raises(StepRefused, match="within 3 calendar days of the decline"):
            check_reconsideration_window(declined, when, RULES, CALENDAR)


def test_a_reconsideration_window_the_calendar_cannot_compute_is_not_enforced() -> None:
    from services.sdk import check_reconsideration_window

    declined = datetime(2026, 12, 30, 2, 0, tzinfo=UTC)  # window ends in 2027
    check_reconsideration_window(declined, datetime(2027, 2, 1, tzinfo=UTC), RULES, CALENDAR)


@pytest.mark.parametrize("rule", list(RULES), ids=lambda rule: rule.version)
def test_every_rule_cites_an_article_or_says_it_is_not_law(rule: Rule) -> None:
    assert any(mark in rule.source for mark in ("art.", "第", "not law")), rule.source
