"""Referral deadlines, pure: which stage a step opens, for how long, when it is met, and how
a lawful extension or clock stop moves it.

Each stage is opened by one step and is due after the period of the rule in force on the
local date of that step (``referral.<stage>.<kind>``, else ``referral.<stage>``; a stage no
rule covers opens no deadline). It is met as soon as the referral leaves the states in
which the recipient still owes it. A stage still open when it falls due is overdue — once.

The recipient may extend a stage to the next limit of ``referral_extension.<stage>.<kind>``
(each limit a total counted from the same start) and stop its clock on a ground listed in
``referral_clock_stop.<stage>.<kind>``; the time stopped is counted in the period's own unit
(working days for a working-day period) and added to it. A deadline whose days fall outside
the business calendar is *not computable*: recorded so, never guessed.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.referral_clocks import ClockStopGround
from contracts.referrals import STAGE_OPEN_IN, ReferralKind, ReferralStage, ReferralState
from services.runtime.law import (
    BusinessCalendar,
    CalendarNotCovered,
    Period,
    PeriodUnit,
    Rule,
    RuleBook,
    RuleNotInForce,
    due_at,
)

__all__ = [
    "STAGES_OPENED_BY",
    "STAGE_OPEN_IN",
    "ClockStopRule",
    "DeadlineClock",
    "DeadlineSettings",
    "DeadlineStepRefused",
    "ExtensionRule",
    "StageDeadline",
    "clock_stop_rule",
    "deadlines_opened",
    "excluded_between",
    "extension_rule",
    "is_met",
    "next_limit",
    "stage_rule",
]

_G = ReferralStage

STAGES_OPENED_BY: MappingProxyType[str, tuple[ReferralStage, ...]] = MappingProxyType(
    {
        "referral.issued": (_G.ACKNOWLEDGE, _G.DECIDE),
        "referral.accepted": (_G.CONCLUDE,),
        "referral.reconsideration_requested": (_G.RECONSIDER,),
        "referral.supervision_opened": (_G.EXPLAIN,),
        "referral.filing_notified": (_G.FILE,),
    }
)
"""Step → the stages whose clock it starts. Every stage is owed by the recipient."""


class DeadlineStepRefused(ValueError):
    """An extension or clock step the rule does not allow; the message says why."""


class DeadlineSettings(BaseModel):
    """Policy table ``[referral_deadlines]``: operational knobs only (the periods are rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    watch_seconds: float = Field(default=30.0, gt=0)


class ExtensionRule(BaseModel):
    """Values of ``referral_extension.<stage>.<kind>``: the longer totals, shortest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: list[Period] = Field(min_length=1)

    @field_validator("limits")
    @classmethod
    def _growing_in_one_unit(cls, limits: list[Period]) -> list[Period]:
        if len({limit.unit for limit in limits}) != 1:
            raise ValueError("every limit is counted in one unit")
        amounts = [limit.amount for limit in limits]
        if amounts != sorted(set(amounts)):
            raise ValueError("limits grow, shortest first")
        return limits


class ClockStopRule(BaseModel):
    """Values of ``referral_clock_stop.<stage>.<kind>``: the grounds that stop the clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grounds: list[ClockStopGround] = Field(min_length=1)


def _in_force(rules: RuleBook, names: tuple[str, ...], on: date) -> Rule | None:
    for name in names:
        if name in rules:
            try:
                return rules.in_force(name, on)
            except RuleNotInForce:
                continue
    return None


def stage_rule(rules: RuleBook, kind: ReferralKind, stage: ReferralStage, on: date) -> Rule | None:
    """The rule that sets ``stage``'s period for a ``kind`` referral whose step was ``on``."""
    return _in_force(rules, (f"referral.{stage.value}.{kind.value}", f"referral.{stage.value}"), on)


def extension_rule(
    rules: RuleBook, kind: ReferralKind, stage: ReferralStage, on: date
) -> tuple[Rule, ExtensionRule] | None:
    rule = _in_force(rules, (f"referral_extension.{stage.value}.{kind.value}",), on)
    return None if rule is None else (rule, rule.values_as(ExtensionRule))


def clock_stop_rule(
    rules: RuleBook, kind: ReferralKind, stage: ReferralStage, on: date
) -> tuple[Rule, ClockStopRule] | None:
    rule = _in_force(rules, (f"referral_clock_stop.{stage.value}.{kind.value}",), on)
    return None if rule is None else (rule, rule.values_as(ClockStopRule))


@dataclass(frozen=True, slots=True)
class DeadlineClock:
    """What a deadline's due time is computed from: a start, the period allowed so far (the
    base or an extended total) and the units excluded by clock stops."""

    started_at: datetime
    period: Period
    excluded: float = 0.0

    def due(self, calendar: BusinessCalendar) -> datetime:
        """When it runs out; :class:`CalendarNotCovered` past the calendar's years."""
        total = Period(amount=self.period.amount + self.excluded, unit=self.period.unit)
        return due_at(self.started_at, total, calendar)


@dataclass(frozen=True, slots=True)
class StageDeadline:
    stage: ReferralStage
    period: Period
    rule_version: str
    due_at: datetime | None
    """``None`` when it is not computable (see ``problem``)."""
    problem: str | None = None


def deadlines_opened(
    kind: ReferralKind,
    event_type: str,
    at: datetime,
    rules: RuleBook,
    calendar: BusinessCalendar,
) -> list[StageDeadline]:
    """The deadlines a step starts, counted from ``at`` under the rules in force that day."""
    on = calendar.local_date(at)
    opened = []
    for stage in STAGES_OPENED_BY.get(event_type, ()):
        rule = stage_rule(rules, kind, stage, on)
        if rule is None:
            continue
        period = rule.values_as(Period)
        try:
            opened.append(StageDeadline(stage, period, rule.version, due_at(at, period, calendar)))
        except CalendarNotCovered as exc:
            opened.append(StageDeadline(stage, period, rule.version, None, str(exc)))
    return opened


def next_limit(current: Period, extension: ExtensionRule | None, rule_name: str) -> Period:
    """The period after one more extension, or :class:`DeadlineStepRefused` saying why not."""
    if extension is None:
        raise DeadlineStepRefused(f"no rule allows extending {rule_name}")
    for limit in extension.limits:
        if limit.unit != current.unit:
            raise DeadlineStepRefused(f"{rule_name} extends in {limit.unit.value}, not ours")
        if limit.amount > current.amount:
            return limit
    longest = extension.limits[-1].describe()
    raise DeadlineStepRefused(
        f"{rule_name} is already at its longest lawful period ({longest}); no further extension"
    )


def excluded_between(
    stopped_at: datetime, resumed_at: datetime, unit: PeriodUnit, calendar: BusinessCalendar
) -> float:
    """The time a clock stood still, in the period's unit: exact for seconds and hours; for
    days, the days after the stop's day up to and including the resumption's day (working
    days only, for a working-day period)."""
    if resumed_at <= stopped_at:
        return 0.0
    match unit:
        case PeriodUnit.SECONDS:
            return (resumed_at - stopped_at).total_seconds()
        case PeriodUnit.HOURS:
            return (resumed_at - stopped_at).total_seconds() / 3600
        case PeriodUnit.CALENDAR_DAYS:
            return float((calendar.local_date(resumed_at) - calendar.local_date(stopped_at)).days)
        case PeriodUnit.WORKING_DAYS:
            day, last, count = calendar.local_date(stopped_at), calendar.local_date(resumed_at), 0
            while day < last:
                day += timedelta(days=1)
                count += calendar.is_working_day(day)
            return float(count)


def is_met(stage: ReferralStage, state: ReferralState) -> bool:
    """Whether the recipient no longer owes ``stage`` once the referral is in ``state``."""
    return state not in STAGE_OPEN_IN[stage]
