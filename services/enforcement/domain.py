"""Administrative enforcement rules, pure: the fine a regulator may impose.

Trademark Law of the PRC, art. 60: where the illegal business volume is 50,000 yuan or
more, the fine is up to five times that volume; below 50,000 yuan (or none can be
established), up to 250,000 yuan.

And when the sums are criminal: a regulator whose findings reach a threshold rule in force
on the date of the act (``criminal_threshold.*``, services/runtime/law/criminal_thresholds.py)
must transfer the case to public security (Decree 310 art. 3) — the rule decides, not an
officer's memory — and in IP cases it transfers already on a reasonable suspicion (art. 3
para. 2), during its investigation. The transfer's legal basis names the rule versions.
"""

from dataclasses import dataclass
from decimal import Decimal

from contracts.identifiers import Money
from contracts.oversight import CaseFindings, Offence, Offender
from services.runtime.law import Rule, ThresholdCrossed

__all__ = [
    "TRANSFER_BASIS",
    "Findings",
    "Offence",
    "Offender",
    "Penalty",
    "PenaltyRefused",
    "assess_penalty",
    "fine_ceiling",
    "suspicion_basis",
    "transfer_basis",
]

Findings = CaseFindings
"""What the regulator established (the wire model: it travels on the penalty's status)."""

TRANSFER_BASIS = (
    "Provisions on the Transfer of Suspected Criminal Cases by Administrative Law "
    "Enforcement Agencies (Decree 310, rev. 2020), art. 3"
)

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


def transfer_basis(crossed: ThresholdCrossed) -> str:
    """The legal basis of a transfer by rule: Decree 310, and the threshold version applied."""
    return f"{TRANSFER_BASIS}; threshold {crossed.version}: {crossed.rule.source}"


def suspicion_basis(rule: Rule, crossed: ThresholdCrossed | None) -> str:
    """The legal basis of a transfer on suspicion, with the threshold reached if one is."""
    basis = f"{rule.source} ({rule.version})"
    if crossed is not None:
        basis += f"; threshold {crossed.version}: {crossed.rule.source}"
    return basis
