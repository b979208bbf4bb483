"""Credit listings, pure: what a listing or a delisting does to a company's standing, and to
whom the coordinator tells it.

* Only a regulator lists (the sender table); it lists a company named in the case it files
  the listing on, and a company already on the list is not listed twice.
* Only the regulator that listed a company lifts the listing.
* "Interests match" is warning routing (services/coordinator/warnings/routing.py): the
  coordinator issues a ``credit_listing`` warning targeting the regions of the listing
  regulator and of every agency that opened a case naming the company; an agency receives it
  when its interests list ``credit_listing`` (or no category) and it sits in, or is
  interested in, one of those regions (national agencies always match on region).
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from contracts.agencies import WarningCategory
from contracts.credit import (
    CreditDelisted,
    CreditList,
    CreditListed,
    CreditListingView,
    ListingState,
)
from contracts.identifiers import new_ulid
from contracts.warnings import Severity, WarningIssued, WarningTargets

__all__ = [
    "Listing",
    "ListingNotPermitted",
    "ListingRefused",
    "apply_delisting",
    "apply_listing",
    "credit_warning",
    "listing_view",
]

WARNING_LIFETIME = timedelta(days=30)


class ListingRefused(ValueError):
    """A listing step the company's standing does not allow (a refused step)."""


class ListingNotPermitted(ListingRefused):
    """A regulator lifts a listing another regulator decided (``not_permitted``)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """A company's standing on one list, as the coordinator keeps it."""

    credit_code: str
    credit_list: CreditList
    party_name: str
    state: ListingState
    listed_by: str
    case_id: str
    decision_ref: str
    listed_at: datetime
    removal_from: date
    expires_on: date
    delisted_at: datetime | None = None
    delisting_reason: str | None = None


def apply_listing(
    current: Listing | None, listed: CreditListed, *, sender: str, case_id: str
) -> Listing:
    """The standing after ``listed``; refused while the company is still listed."""
    if current is not None and current.state is ListingState.LISTED:
        raise ListingRefused(
            f"{listed.credit_code} is already on the {listed.credit_list.value} list "
            f"(decision {current.decision_ref} by {current.listed_by})"
        )
    return Listing(
        credit_code=listed.credit_code,
        credit_list=listed.credit_list,
        party_name=listed.party_name,
        state=ListingState.LISTED,
        listed_by=sender,
        case_id=case_id,
        decision_ref=listed.decision_ref,
        listed_at=listed.listed_at,
        removal_from=listed.removal_from,
        expires_on=listed.expires_on,
    )


def apply_delisting(current: Listing | None, delisted: CreditDelisted, *, sender: str) -> Listing:
    """The standing after ``delisted``: only a standing listing, only by who listed it."""
    if current is None or current.state is not ListingState.LISTED:
        raise ListingRefused(
            f"{delisted.credit_code} is not on the {delisted.credit_list.value} list"
        )
    if current.listed_by != sender:
        raise ListingNotPermitted(
            f"only {current.listed_by}, which listed {delisted.credit_code}, may lift the "
            f"listing, not {sender}"
        )
    return replace(
        current,
        state=ListingState.DELISTED,
        delisted_at=delisted.delisted_at,
        delisting_reason=delisted.reason.value,
    )


def listing_view(listing: Listing) -> CreditListingView:
    return CreditListingView(
        credit_code=listing.credit_code,
        party_name=listing.party_name,
        credit_list=listing.credit_list,
        state=listing.state,
        listed_by=listing.listed_by,
        decision_ref=listing.decision_ref,
        listed_at=listing.listed_at,
        removal_from=listing.removal_from,
        expires_on=listing.expires_on,
        delisted_at=listing.delisted_at,
        delisting_reason=listing.delisting_reason,
    )


def credit_warning(listing: Listing, regions: list[str], now: datetime) -> WarningIssued:
    """The ``credit_listing`` warning that carries a listing or delisting to the agencies
    whose interests match (see the module docstring)."""
    listed = listing.state is ListingState.LISTED
    what = "listed on" if listed else f"removed ({listing.delisting_reason}) from"
    until = f" until {listing.expires_on.isoformat()} at the latest" if listed else ""
    return WarningIssued(
        warning_id=new_ulid(),
        category=WarningCategory.CREDIT_LISTING,
        severity=Severity.MEDIUM,
        title=f"Credit: {listing.party_name} ({listing.credit_code}) {what} the "
        f"{listing.credit_list.value} list",
        body=(
            f"{listing.listed_by} {what} the {listing.credit_list.value} list "
            f"{listing.party_name}, unified social credit code {listing.credit_code} "
            f"(decision {listing.decision_ref}){until}. Check your own cases naming it."
        ),
        targets=WarningTargets(regions=sorted(set(regions))),
        expires_at=now + WARNING_LIFETIME,
    )
