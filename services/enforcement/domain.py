"""Administrative enforcement rules, pure: the fine a regulator may impose.

Trademark Law of the PRC, art. 60: where the illegal business volume is 50,000 yuan or
more, the fine is up to five times that volume; below 50,000 yuan (or none can be
established), up to 250,000 yuan.

And when the sums are criminal: a regulator that finds them at or above a threshold of the
policy table ``[[enforcement.criminal_thresholds]]`` must transfer the case to public
security (Decree 310 art. 3) — the rule decides, not an officer's memory.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.identifiers import Money

__all__ = [
    "CriminalThreshold",
    "Findings",
    "Offender",
    "Penalty",
    "PenaltyRefused",
    "ThresholdPolicy",
    "assess_penalty",
    "criminal_threshold_met",
    "fine_ceiling",
    "transfer_reason",
]

VOLUME_THRESHOLD = Decimal(50_000)
FLAT_CEILING = Decimal(250_000)
VOLUME_MULTIPLE = Decimal(5)


class PenaltyRefused(ValueError):
    """A proposed fine the law does not allow."""


@dataclass(frozen=True, slots=True)
class Penalty:
    illegal_volume: Money
    fine: Money

    @property
    def note(self) -> str:
        return (
            f"fine {self.fine.value} {self.fine.currency} on illegal business volume "
            f"{self.illegal_volume.value} {self.illegal_volume.currency}"
        )


def fine_ceiling(illegal_volume: Money) -> Money:
    """The largest fine art. 60 allows for this volume (CNY only)."""
    if illegal_volume.currency != "CNY":
        raise PenaltyRefused("illegal business volume must be assessed in CNY")
    if illegal_volume.value >= VOLUME_THRESHOLD:
        return Money(value=illegal_volume.value * VOLUME_MULTIPLE, currency="CNY")
    return Money(value=FLAT_CEILING, currency="CNY")


def assess_penalty(illegal_volume: Money, fine: Money) -> Penalty:
    """Check a proposed fine against the ceiling; refuse it with the reason otherwise."""
    ceiling = fine_ceiling(illegal_volume)
    if fine.currency != "CNY":
        raise PenaltyRefused("fines are imposed in CNY")
    if fine.value > ceiling.value:
        raise PenaltyRefused(
            f"fine {fine.value} CNY exceeds the ceiling of {ceiling.value} CNY "
            f"for an illegal business volume of {illegal_volume.value} CNY"
        )
    return Penalty(illegal_volume=illegal_volume, fine=fine)


class Offender(StrEnum):
    """Criminal thresholds may differ for natural persons and for units (legal persons)."""

    INDIVIDUAL = "individual"
    UNIT = "unit"


class CriminalThreshold(BaseModel):
    """One row: at or above either sum, the offence is criminal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offence: str = Field(min_length=1)
    offender: Offender
    illegal_business_volume: Decimal | None = Field(default=None, ge=0)
    illegal_gains: Decimal | None = Field(default=None, ge=0)


class ThresholdPolicy(BaseModel):
    """Policy table ``[enforcement]``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    criminal_thresholds: list[CriminalThreshold] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Findings:
    """What the regulator established when it concluded its case."""

    offence: str
    offender: Offender
    illegal_business_volume: Money
    illegal_gains: Money | None = None


def criminal_threshold_met(
    findings: Findings, thresholds: list[CriminalThreshold]
) -> CriminalThreshold | None:
    """The threshold row the findings reach, or ``None`` if the case stays administrative."""
    for row in thresholds:
        if row.offence != findings.offence or row.offender is not findings.offender:
            continue
        if _reaches(findings.illegal_business_volume, row.illegal_business_volume):
            return row
        if findings.illegal_gains and _reaches(findings.illegal_gains, row.illegal_gains):
            return row
    return None


def _reaches(amount: Money, threshold: Decimal | None) -> bool:
    if threshold is None:
        return False
    if amount.currency != "CNY":
        raise PenaltyRefused("criminal thresholds are assessed in CNY")
    return amount.value >= threshold


def transfer_reason(findings: Findings, row: CriminalThreshold) -> str:
    """Why the case goes to the police, in words the recipient reads."""
    volume = findings.illegal_business_volume.value
    limit = row.illegal_business_volume
    gains = findings.illegal_gains.value if findings.illegal_gains else None
    if limit is not None and volume >= limit:
        sums = f"illegal business volume {volume} CNY ≥ {limit} CNY"
    else:
        sums = f"illegal gains {gains} CNY ≥ {row.illegal_gains} CNY"
    return f"{findings.offence.replace('_', ' ')} by a {row.offender.value}: {sums}"
