"""Customs events (DESIGN §5): detention of suspected infringing goods at the border.

A detention carries the case_id so that the referral chain that follows shares one id.
China's clocks (知识产权海关保护条例, State Council Decree 395, rev. 2018): on the holder's
application and bond, goods are detained (art. 15) and released unless a court's assistance
notice arrives within 20 working days (art. 24(1)); after customs' own notice the holder has
3 working days to apply and post a bond (art. 16), customs investigates within 30 working
days (art. 20) and releases after 50 working days without a court notice (art. 24(2)).
"""

from enum import StrEnum
from typing import ClassVar

from contracts.base import Payload
from contracts.cases import IpRight, Quantity
from contracts.identifiers import HsCode, Money, NonEmptyStr, Ulid, UtcDatetime

__all__ = ["DetentionBasis", "GoodsConfiscated", "GoodsDetained", "GoodsReleased"]


class DetentionBasis(StrEnum):
    """Why customs detained: it decides which release clock runs."""

    APPLICATION = "application"
    """The holder applied and posted a bond unprompted (art. 15): 20 working days."""
    EX_OFFICIO = "ex_officio"
    """Customs found the goods, notified the holder, who applied in time (art. 16): 50."""


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
    """Accepted for compatibility and ignored: Chinese law has no perishable-goods clock
    (that was the EU's Reg. 608/2013 art. 23)."""
    basis: DetentionBasis | None = None
    """Art. 15 (on application) or art. 16 (after customs' notice); absent from old senders."""
    release_due_at: UtcDatetime | None = None
    """When the goods are released unless a court's assistance notice arrives (art. 24)."""
    rule_version: str | None = None
    """The rule that set ``release_due_at`` (``customs.court_notice.…@YYYY-MM-DD``)."""


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
