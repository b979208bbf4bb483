"""The bond a holder posts when it applies for detention after customs' notice, pure.

知识产权海关保护条例 (Decree 395, rev. 2018) art. 14: a bond of no more than the goods'
value; the GAC's implementing measures (GAC Order 183, rev. GAC Order 240, in force
2018-07-01) set the amount for goods customs found (art. 22 para. 1(1) → art. 23):

* goods worth less than RMB 20,000: a bond equal to their value;
* RMB 20,000 to 200,000: 50 % of their value, and no less than RMB 20,000;
* more than RMB 200,000: RMB 100,000.

The figures are the ``customs.bond.ex_officio`` rule of the policy table, never constants.
A general bond (总担保) accepted by the GAC is outside the bus: an application that cites
one is checked by the officer.
"""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from contracts.identifiers import Money

__all__ = ["BondBands", "BondTooLow", "bond_required", "check_bond"]

BOND_RULE = "customs.bond.ex_officio"


class BondBands(BaseModel):
    """The rule's values (``[[rule]] customs.bond.ex_officio``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str
    full_value_below: Decimal
    half_value_up_to: Decimal
    share: Decimal
    minimum: Decimal
    fixed_above: Decimal


class BondTooLow(ValueError):
    """The bond posted is less than the rule requires, or in another currency."""


def bond_required(value: Money, bands: BondBands) -> Money:
    """The bond for goods declared at ``value`` (in the rule's currency).

    >>> bands = BondBands(currency="CNY", full_value_below=20000, half_value_up_to=200000,
    ...                   share="0.5", minimum=20000, fixed_above=100000)
    >>> [str(bond_required(Money(value=v, currency="CNY"), bands).value)
    ...  for v in ("8000", "20000", "60000", "250000")]
    ['8000', '20000', '30000.0', '100000']
    """
    if value.currency != bands.currency:
        raise BondTooLow(
            f"the goods are valued in {value.currency}; the bond rule counts in {bands.currency}"
        )
    if value.value < bands.full_value_below:
        amount = value.value
    elif value.value <= bands.half_value_up_to:
        amount = max(value.value * bands.share, bands.minimum)
    else:
        amount = bands.fixed_above
    return Money(value=amount, currency=bands.currency)


def check_bond(posted: Money, value: Money, bands: BondBands, rule_version: str) -> None:
    """Raise :class:`BondTooLow` when ``posted`` does not cover the bond for ``value``."""
    required = bond_required(value, bands)
    if posted.currency != required.currency or posted.value < required.value:
        raise BondTooLow(
            f"bond {posted.value} {posted.currency} is less than the "
            f"{required.value} {required.currency} required for goods valued "
            f"{value.value} {value.currency} ({rule_version})"
        )
