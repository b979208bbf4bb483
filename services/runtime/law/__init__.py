"""The law in force as data: dated, cited rules, business calendars, criminal thresholds, the
policy file, who may say what.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.law.authority import refuse_unpermitted
    from services.runtime.law.business_calendar import (
        BusinessCalendar,
        CalendarNotCovered,
        CalendarPolicy,
        Period,
        PeriodUnit,
        due_at,
    )
    from services.runtime.law.criminal_thresholds import (
        ThresholdCrossed,
        ThresholdUnassessable,
        check_threshold_rules,
        crossed_threshold,
    )
    from services.runtime.law.policy import load_policy, policy_calendar, policy_section
    from services.runtime.law.rules import Rule, RuleBook, RuleNotInForce

__all__ = [
    "BusinessCalendar",
    "CalendarNotCovered",
    "CalendarPolicy",
    "Period",
    "PeriodUnit",
    "Rule",
    "RuleBook",
    "RuleNotInForce",
    "ThresholdCrossed",
    "ThresholdUnassessable",
    "check_threshold_rules",
    "crossed_threshold",
    "due_at",
    "load_policy",
    "policy_calendar",
    "policy_section",
    "refuse_unpermitted",
]
_EXPORTS = {
    "BusinessCalendar": "services.runtime.law.business_calendar",
    "CalendarNotCovered": "services.runtime.law.business_calendar",
    "CalendarPolicy": "services.runtime.law.business_calendar",
    "Period": "services.runtime.law.business_calendar",
    "PeriodUnit": "services.runtime.law.business_calendar",
    "Rule": "services.runtime.law.rules",
    "RuleBook": "services.runtime.law.rules",
    "RuleNotInForce": "services.runtime.law.rules",
    "ThresholdCrossed": "services.runtime.law.criminal_thresholds",
    "ThresholdUnassessable": "services.runtime.law.criminal_thresholds",
    "check_threshold_rules": "services.runtime.law.criminal_thresholds",
    "crossed_threshold": "services.runtime.law.criminal_thresholds",
    "due_at": "services.runtime.law.business_calendar",
    "load_policy": "services.runtime.law.policy",
    "policy_calendar": "services.runtime.law.policy",
    "policy_section": "services.runtime.law.policy",
    "refuse_unpermitted": "services.runtime.law.authority",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
