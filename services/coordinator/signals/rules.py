"""Linkage signals, pure: spotting a repeat infringer and a jump in seizures.

* ``repeat_infringer`` — one party (unified social credit code) appears *in an infringer's
  role* (:data:`INFRINGER_ROLES`) in at least two cases within the window, and either those
  cases belong to ``min_agencies`` different agencies or there are ``min_cases`` of them.
  One case referred between agencies is one case, not a repeat.
* ``seizure_trend`` — detentions of one HS prefix at one port in the last window reach
  ``min_count`` and at least ``growth_factor`` times the window before.

A signal on the same subject is raised at most once per window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from contracts.cases import PartyRole

__all__ = [
    "INFRINGER_ROLES",
    "LinkagePolicy",
    "PartySighting",
    "RepeatInfringer",
    "RepeatInfringerPolicy",
    "SeizureTrend",
    "SeizureTrendPolicy",
    "may_raise",
    "repeat_infringer",
    "seizure_trend",
]


INFRINGER_ROLES = frozenset({PartyRole.SUSPECT})
"""The roles that count towards a repeat infringer: the party accused of the infringement.
A rights holder, complainant, consignee, consignor or mediator named in many cases is not
thereby an infringer (a consignee or consignor who is accused is named as the suspect)."""


class RepeatInfringerPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: int = Field(default=365, gt=0)
    min_agencies: int = Field(default=2, ge=2)
    min_cases: int = Field(default=3, ge=2)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


class SeizureTrendPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: int = Field(default=7, gt=0)
    hs_prefix_digits: int = Field(default=4, ge=2, le=10)
    min_count: int = Field(default=3, ge=1)
    growth_factor: float = Field(default=2.0, ge=1.0)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


class LinkagePolicy(BaseModel):
    """``[linkage.*]`` in deploy/policy.toml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repeat_infringer: RepeatInfringerPolicy = RepeatInfringerPolicy()
    seizure_trend: SeizureTrendPolicy = SeizureTrendPolicy()


@dataclass(frozen=True, slots=True)
class PartySighting:
    """A party named in a case opened by an agency."""

    case_id: str
    agency_id: str
    seen_at: datetime
    role: PartyRole = PartyRole.OTHER


@dataclass(frozen=True, slots=True)
class RepeatInfringer:
    case_ids: tuple[str, ...]
    agency_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SeizureTrend:
    current: int
    previous: int


def repeat_infringer(
    sightings: list[PartySighting], now: datetime, policy: RepeatInfringerPolicy
) -> RepeatInfringer | None:
    """The signal, if the sightings in an infringer's role within the window amount to a
    repeat infringer (sightings in any other role are not counted)."""
    recent = [
        s
        for s in sightings
        if s.role in INFRINGER_ROLES and now - policy.window <= s.seen_at <= now
    ]
    cases = sorted({s.case_id for s in recent})
    agencies = sorted({s.agency_id for s in recent})
    if len(cases) < 2:
        return None
    if len(agencies) >= policy.min_agencies or len(cases) >= policy.min_cases:
        return RepeatInfringer(tuple(cases), tuple(agencies))
    return None


def seizure_trend(
    detained_at: list[datetime], now: datetime, policy: SeizureTrendPolicy
) -> SeizureTrend | None:
    """The signal, if detentions in the last window jumped against the one before."""
    window = policy.window
    current = sum(now - window < t <= now for t in detained_at)
    previous = sum(now - 2 * window < t <= now - window for t in detained_at)
    if current >= policy.min_count and current >= policy.growth_factor * previous:
        return SeizureTrend(current, previous)
    return None


def may_raise(last_raised: datetime | None, now: datetime, window: timedelta) -> bool:
    """A signal on one subject is raised again only once a whole window has passed."""
    return last_raised is None or now - last_raised >= window
