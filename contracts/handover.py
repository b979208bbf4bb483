"""Handing over seized items with a transferred case (Decree 310 art. 12).

Once public security has filed a case a regulator transferred (``referral.accepted`` of an
``admin_to_criminal`` referral: the notice of filing), the regulator hands over the items it
seized and the case materials within the period of rule ``transfer.handover`` (3 days). The
handover is recorded on the case by ``referral.items_handed_over``, sent by the referral's
sender to its recipient; it is a note on the referral, not a step of its state machine.
"""

from typing import ClassVar

from pydantic import Field

from contracts.identifiers import NonEmptyStr, Ulid, UtcDatetime
from contracts.referrals import ReferralPayload

__all__ = ["ItemsHandedOver"]


class ItemsHandedOver(ReferralPayload):
    """Regulator → public security: the seized items and materials handed over."""

    event_type: ClassVar[str] = "referral.items_handed_over"

    case_id: Ulid
    inventory: list[NonEmptyStr] = Field(min_length=1)
    handed_over_at: UtcDatetime
    due_by: UtcDatetime
    """When the handover was due: the filing notice plus the period of ``handover_rule``."""
    handover_rule: NonEmptyStr
