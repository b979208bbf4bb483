"""Customs events (DESIGN §5): detention of suspected infringing goods at the border.

A detention carries the case_id so that the referral chain that follows shares one id.
"""

from typing import ClassVar

from contracts.base import Payload
from contracts.cases import IpRight, Quantity
from contracts.identifiers import HsCode, Money, NonEmptyStr, Ulid

__all__ = ["GoodsConfiscated", "GoodsDetained", "GoodsReleased"]


class GoodsDetained(Payload):
    """Customs detained goods suspected of infringing a recorded right."""

    event_type: ClassVar[str] = "goods.detained"

    detention_id: Ulid
    case_id: Ulid
    port: NonEmptyStr
    hs_code: HsCode
    quantity: Quantity
    declared_value: Money
    ip_right: IpRight
    rights_holder: NonEmptyStr
    perishable: bool = False
    """Perishable goods need a faster decision; deadlines policy may shorten for them."""


class GoodsReleased(Payload):
    """Detained goods were released (no infringement found, bond posted, time ran out...)."""

    event_type: ClassVar[str] = "goods.released"

    detention_id: Ulid
    case_id: Ulid
    reason: NonEmptyStr


class GoodsConfiscated(Payload):
    """Detained goods were confiscated under the named decision."""

    event_type: ClassVar[str] = "goods.confiscated"

    detention_id: Ulid
    case_id: Ulid
    decision_ref: NonEmptyStr
