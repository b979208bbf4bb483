"""Customs' legal clocks, pure: which clock a step starts, when it runs out, what follows.

知识产权海关保护条例 (State Council Decree 395, rev. 2018), as the ``customs.*`` rules cite it:

* customs finds suspected goods of a recorded right and notifies the holder (art. 16): the
  holder must apply and post a bond within 3 working days, else the goods go
  (``customs.application_and_bond``);
* detained after that notice: customs investigates within 30 working days
  (``customs.investigation``, art. 20) and releases after 50 working days without a court's
  assistance notice (``customs.court_notice.ex_officio``, art. 24(2));
* detained on the holder's own application (art. 15): released after 20 working days
  without a court notice (``customs.court_notice.on_application``, art. 24(1)).

There is no perishable-goods clock in Chinese law. Each clock records the rule version that
set it; one the calendar cannot compute is recorded as such (never guessed), and customs
does not release on it — an officer decides.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.customs import DetentionBasis
from services.runtime.law import (
    BusinessCalendar,
    CalendarNotCovered,
    Period,
    RuleBook,
    due_at,
)

__all__ = [
    "RELEASE_CLOCK",
    "ClockDue",
    "CustomsClock",
    "CustomsSettings",
    "clock_due",
    "release_reason",
]


class CustomsSettings(BaseModel):
    """Policy table ``[customs]``: operational knobs (the periods are ``customs.*`` rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    watch_seconds: float = Field(default=60.0, gt=0)


class CustomsClock(StrEnum):
    """A customs clock, named as its rule."""

    APPLICATION_AND_BOND = "customs.application_and_bond"
    INVESTIGATION = "customs.investigation"
    COURT_NOTICE_ON_APPLICATION = "customs.court_notice.on_application"
    COURT_NOTICE_EX_OFFICIO = "customs.court_notice.ex_officio"


RELEASE_CLOCK = {
    DetentionBasis.APPLICATION: CustomsClock.COURT_NOTICE_ON_APPLICATION,
    DetentionBasis.EX_OFFICIO: CustomsClock.COURT_NOTICE_EX_OFFICIO,
}
"""The clock whose lapse releases detained goods, by why they were detained."""

_WHAT = {
    CustomsClock.APPLICATION_AND_BOND: (
        "the right holder did not apply for detention and post a bond within {period} of "
        "customs' notice"
    ),
    CustomsClock.COURT_NOTICE_ON_APPLICATION: (
        "no court assistance notice within {period} of detention on the holder's application"
    ),
    CustomsClock.COURT_NOTICE_EX_OFFICIO: (
        "no court assistance notice within {period} of detention, and the investigation did "
        "not establish infringement"
    ),
    CustomsClock.INVESTIGATION: "customs did not determine infringement within {period}",
}


@dataclass(frozen=True, slots=True)
class ClockDue:
    clock: CustomsClock
    period: Period
    rule_version: str
    source: str
    due_at: datetime | None
    problem: str | None = None


def clock_due(
    clock: CustomsClock, start: datetime, rules: RuleBook, calendar: BusinessCalendar
) -> ClockDue:
    """When ``clock`` started at ``start`` runs out, under the rule in force that local day."""
    rule = rules.in_force(clock.value, calendar.local_date(start))
    period = rule.values_as(Period)
    try:
        return ClockDue(clock, period, rule.version, rule.source, due_at(start, period, calendar))
    except CalendarNotCovered as exc:
        return ClockDue(clock, period, rule.version, rule.source, None, str(exc))


def release_reason(clock: CustomsClock, period: str, rule_version: str) -> str:
    """Why goods went, as ``goods.released`` says it."""
    return f"{_WHAT[clock].format(period=period)} ({rule_version})"
