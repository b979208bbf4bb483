"""Credit supervision (issue 19 part 3): a regulator lists a party as seriously dishonest.

A market regulator that has imposed a heavier administrative penalty may list the party on
the serious-violation list (严重违法失信名单, SAMR Order 44), and lifts the listing when the
period ends, on early removal (信用修复) or when the decision is revoked. Both are case
events: they are filed on the case the penalty was decided on, and the coordinator links them
to every other case that names the same company and tells the agencies whose warning
interests match (``credit_listing``).
"""

from datetime import date
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator

from contracts.base import Payload
from contracts.identifiers import AgencyId, CreditCode, NonEmptyStr, UtcDatetime

__all__ = [
    "CreditDelisted",
    "CreditList",
    "CreditListed",
    "CreditListingView",
    "DelistingReason",
    "ListingState",
]


class CreditList(StrEnum):
    """Which list a party is put on."""

    SERIOUS_VIOLATION = "serious_violation"
    """严重违法失信名单 (SAMR Order 44, effective 2021-09-01)."""


class DelistingReason(StrEnum):
    """Why a listing ends."""

    PERIOD_ENDED = "period_ended"
    """The listing period ran out (moved off by the regulator that listed it)."""
    EARLY_REMOVAL = "early_removal"
    """Removed early on the party's application after the minimum time (credit repair)."""
    DECISION_REVOKED = "decision_revoked"
    """The listing, or the penalty it rests on, was revoked or annulled."""


class CreditListed(Payload):
    """A regulator's decision to list a company (by credit code) on a credit list.

    ``removal_from`` is the first day the party may apply for early removal and
    ``expires_on`` the day the listing ends at the latest; the deciding regulator computes
    both from the policy rule in force, whose version it cites in ``legal_basis``.
    """

    event_type: ClassVar[str] = "credit.listed"

    credit_code: CreditCode
    party_name: NonEmptyStr
    credit_list: CreditList
    grounds: NonEmptyStr
    legal_basis: NonEmptyStr
    decision_ref: NonEmptyStr
    listed_at: UtcDatetime
    removal_from: date
    expires_on: date

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if not self.listed_at.date() <= self.removal_from <= self.expires_on:
            raise ValueError("listed_at <= removal_from <= expires_on")
        return self


class CreditDelisted(Payload):
    """The regulator that listed a company lifts the listing."""

    event_type: ClassVar[str] = "credit.delisted"

    credit_code: CreditCode
    credit_list: CreditList
    reason: DelistingReason
    grounds: NonEmptyStr
    decision_ref: NonEmptyStr
    """The delisting decision's own reference."""
    delisted_at: UtcDatetime


class ListingState(StrEnum):
    LISTED = "listed"
    DELISTED = "delisted"


class CreditListingView(BaseModel):
    """A company named in a case, as it stands on a credit list (in the ``case`` reply)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    credit_code: str
    party_name: str
    credit_list: CreditList
    state: ListingState
    listed_by: AgencyId
    decision_ref: str
    listed_at: UtcDatetime
    removal_from: date
    expires_on: date
    delisted_at: UtcDatetime | None = None
    delisting_reason: DelistingReason | None = None
