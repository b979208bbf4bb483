"""Administrative enforcement rules, pure: the fine a regulator may impose.

Trademark Law of the PRC, art. 60: where the illegal business volume is 50,000 yuan or
more, the fine is up to five times that volume; below 50,000 yuan (or none can be
established), up to 250,000 yuan.
"""

from dataclasses import dataclass
from decimal import Decimal

from contracts.identifiers import Money

__all__ = ["Penalty", "PenaltyRefused", "assess_penalty", "fine_ceiling"]

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
