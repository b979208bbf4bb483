"""Customs rules, pure: what a detention says to the bus.

A detention at the border opens a case (the case id is chosen here, at the start of the
chain, and travels with every referral) and records the detained goods.
"""

from dataclasses import dataclass

from contracts.cases import Goods, IpRight, Party
from contracts.customs import GoodsDetained
from contracts.identifiers import Money

__all__ = ["Detention", "case_title", "detained_goods"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Detention:
    """What a customs officer records when suspected infringing goods are held."""

    local_ref: str
    port: str
    hs_code: str
    description: str
    quantity: int
    declared_value: Money
    ip_right: IpRight
    rights_holder: str
    parties: tuple[Party, ...] = ()
    perishable: bool = False
    """Carried onto ``goods.detained`` for compatibility; no clock depends on it."""

    @property
    def goods(self) -> Goods:
        return Goods(
            description=self.description,
            hs_code=self.hs_code,
            quantity=self.quantity,
            declared_value=self.declared_value,
        )


def case_title(detention: Detention) -> str:
    """How the case is named on everyone's timeline."""
    right = detention.ip_right.type.value.replace("_", " ")
    return f"Suspected {right} infringement: {detention.description} at {detention.port}"


def detained_goods(detention: Detention, *, detention_id: str, case_id: str) -> GoodsDetained:
    return GoodsDetained(
        detention_id=detention_id,
        case_id=case_id,
        port=detention.port,
        hs_code=detention.hs_code,
        quantity=detention.quantity,
        declared_value=detention.declared_value,
        ip_right=detention.ip_right,
        rights_holder=detention.rights_holder,
        perishable=detention.perishable,
    )
