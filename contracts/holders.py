"""Rights-holder events (DESIGN §5): customs' notice to a holder, and the holder's answer.

Customs finds goods suspected of infringing a recorded right and notifies the holder
(知识产权海关保护条例, State Council Decree 395, rev. 2018-03-19, art. 16); within 3 working
days the holder applies for detention and posts a bond (art. 14; amounts: GAC Order 183 as
amended by GAC Order 240 of 2018, art. 22), or declines, or lets the window pass — then
customs releases the goods. Holders speak through a rights-holder desk agency (kind
``rightsholders``), and only in the name of a holder that desk represents.

A notice carries what the holder needs to decide — the right, the goods, the port — and
nothing about the consignor or consignee: no party of the case, no personal data.
"""

from typing import ClassVar

from contracts.base import Payload
from contracts.cases import IpRight, Quantity
from contracts.identifiers import HsCode, Money, NonEmptyStr, Ulid, UtcDatetime

__all__ = ["HolderApplied", "HolderDeclined", "HolderLapsed", "HolderNotified", "HolderPayload"]


class HolderPayload(Payload):
    """A step about one customs notice to one holder (``notice_id``, ``holder``)."""

    event_type: ClassVar[str] = ""

    notice_id: Ulid
    holder: NonEmptyStr
    """The registered holder's id as customs' recordation names it (a desk's ``represents``)."""


class HolderNotified(HolderPayload):
    """Customs suspended clearance of suspected goods and notifies the holder (art. 16)."""

    event_type: ClassVar[str] = "holder.notified"

    case_id: Ulid
    detention_id: Ulid
    port: NonEmptyStr
    hs_code: HsCode
    quantity: Quantity
    ip_right: IpRight
    notified_at: UtcDatetime
    respond_by: UtcDatetime | None = None
    """When the window closes (3 working days, art. 16), if customs' calendar covers it."""
    rule_version: str | None = None
    """The rule that set ``respond_by`` (``customs.application_and_bond@2018-03-19``)."""


class HolderApplied(HolderPayload):
    """The holder applies for detention of the notified goods and posts a bond (arts. 13-14)."""

    event_type: ClassVar[str] = "holder.applied"

    bond: Money
    application_ref: NonEmptyStr


class HolderDeclined(HolderPayload):
    """The holder does not ask customs to detain: the goods are released (art. 16)."""

    event_type: ClassVar[str] = "holder.declined"

    reason: NonEmptyStr


class HolderLapsed(Payload):
    """The coordinator's report that the holder's window closed without an answer."""

    event_type: ClassVar[str] = "holder.lapsed"

    notice_id: Ulid
    case_id: Ulid
    due_at: UtcDatetime
