"""Referral deadlines, pure: which stage a step opens, when it is due, when it is met.

Each stage is opened by one step, is due after the period the policy sets for the
referral's kind, and is met as soon as the referral leaves the states in which the
recipient still owes something. A stage that is still open when it falls due is overdue —
once: the coordinator records that in its database with the notice it sends.
"""

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.runtime.business_calendar import BusinessCalendar, Period, PeriodUnit, due_at

__all__ = [
    "STAGES_OPENED_BY",
    "STAGE_OPEN_IN",
    "DeadlinePolicy",
    "StageDeadline",
    "deadlines_opened",
    "is_met",
]

_S = ReferralState
_G = ReferralStage

STAGES_OPENED_BY: MappingProxyType[str, tuple[ReferralStage, ...]] = MappingProxyType(
    {
        "referral.issued": (_G.ACKNOWLEDGE, _G.DECIDE),
        "referral.reconsideration_requested": (_G.RECONSIDER,),
        "referral.supervision_opened": (_G.EXPLAIN,),
        "referral.filing_notified": (_G.FILE,),
    }
)
"""Step → the stages whose clock it starts. Every stage is owed by the recipient."""

STAGE_OPEN_IN: MappingProxyType[ReferralStage, frozenset[ReferralState]] = MappingProxyType(
    {
        _G.ACKNOWLEDGE: frozenset({_S.ISSUED}),
        _G.DECIDE: frozenset({_S.ISSUED, _S.ACKNOWLEDGED}),
        _G.RECONSIDER: frozenset({_S.RECONSIDERING}),
        _G.EXPLAIN: frozenset({_S.SUPERVISED}),
        _G.FILE: frozenset({_S.FILING_NOTIFIED}),
        # issue 15 (oversight): owed to the procuratorate, not in any referral state; its
        # rows are keyed by oversight id and settled by services/coordinator/oversight_flow.py
        _G.OVERSIGHT_REPLY: frozenset(),
    }
)
"""Stage → the states in which it is still owed; any other state means it was met (or moot)."""


def _days(amount: int) -> Period:
    return Period(amount=amount, unit=PeriodUnit.CALENDAR_DAYS)


_LAW: MappingProxyType[ReferralStage, Period] = MappingProxyType(
    {
        _G.ACKNOWLEDGE: Period(amount=24, unit=PeriodUnit.HOURS),
        _G.DECIDE: _days(30),
        _G.RECONSIDER: _days(3),
        _G.EXPLAIN: _days(7),
        _G.FILE: _days(15),
    }
)


_LAW_BY_KIND: MappingProxyType[ReferralKind, dict[ReferralStage, Period]] = MappingProxyType(
    {
        ReferralKind.ADMIN_TO_CRIMINAL: {_G.DECIDE: _days(3)},
        ReferralKind.CUSTOMS_TO_CRIMINAL: {_G.DECIDE: _days(3)},
        ReferralKind.MEDIATION_CONFIRMATION: {_G.DECIDE: _days(15)},
    }
)


class DeadlinePolicy(BaseModel):
    """Policy table ``[referral_deadlines]``: periods per stage, overridden per kind.

    Defaults are the linkage rules: acknowledge within 24 h; a transferred criminal case
    decided within 3 days (Decree 310 art. 8); reconsideration answered within 3 days
    (art. 9); a refusal explained within 7 days and a case filed within 15 days of the
    procuratorate's notice (Opinions of 2006; Criminal Procedure Law art. 113).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    watch_seconds: float = Field(default=30.0, gt=0)
    default: dict[ReferralStage, Period] = Field(default_factory=lambda: dict(_LAW))
    """Per stage; a stage left out of the table keeps the period of the law above."""
    kinds: dict[ReferralKind, dict[ReferralStage, Period]] = Field(default_factory=dict)
    """Per kind and stage; what is left out keeps the law's period for the kind."""

    def period(self, kind: ReferralKind, stage: ReferralStage) -> Period:
        """The period for ``stage`` of a ``kind`` referral: policy first, then the law."""
        return (
            self.kinds.get(kind, {}).get(stage)
            or _LAW_BY_KIND.get(kind, {}).get(stage)
            or self.default.get(stage)
            or _LAW[stage]
        )


@dataclass(frozen=True, slots=True)
class StageDeadline:
    stage: ReferralStage
    due_at: datetime
    period: Period


def deadlines_opened(
    kind: ReferralKind,
    event_type: str,
    at: datetime,
    policy: DeadlinePolicy,
    calendar: BusinessCalendar,
) -> list[StageDeadline]:
    """The deadlines a step starts, counted from ``at`` (when the step happened)."""
    opened = []
    for stage in STAGES_OPENED_BY.get(event_type, ()):
        period = policy.period(kind, stage)
        opened.append(StageDeadline(stage, due_at(at, period, calendar), period))
    return opened


def is_met(stage: ReferralStage, state: ReferralState) -> bool:
    """Whether the recipient no longer owes ``stage`` once the referral is in ``state``."""
    return state not in STAGE_OPEN_IN[stage]
