"""Judicial events (DESIGN §5): what courts decide, reported back onto the shared case.

``confirmation.issued`` answers a ``mediation_confirmation`` referral: the court confirms (or
refuses to confirm) a mediation agreement so that it becomes enforceable.
"""

from typing import ClassVar

from contracts.base import Payload
from contracts.identifiers import Money, NonEmptyStr, Ulid, UtcDatetime
from contracts.referrals import ReferralPayload

__all__ = ["ConfirmationIssued", "JudgmentRendered"]


class JudgmentRendered(Payload):
    """A court rendered judgment on the case."""

    event_type: ClassVar[str] = "judgment.rendered"

    case_id: Ulid
    court_ref: NonEmptyStr
    verdict: NonEmptyStr
    sentence: str = ""
    fine: Money | None = None
    rendered_at: UtcDatetime


class ConfirmationIssued(ReferralPayload):
    """A court's judicial confirmation of a mediation agreement (or its refusal)."""

    event_type: ClassVar[str] = "confirmation.issued"

    case_id: Ulid
    confirmation_ref: NonEmptyStr
    confirmed: bool
    note: str = ""
