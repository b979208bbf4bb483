"""What the coordinator does with a credit listing filed on a case.

The listing is on the case's timeline like any case event (the fold); here the company's
standing is recorded (so the case view of *every* case naming the company shows it) and a
``credit_listing`` warning carries it to the agencies whose interests match
(:mod:`.rules`). The warning goes through the same desk, tracking and audit trail as any.
"""

from contracts.credit import CreditDelisted, CreditListed
from contracts.envelope import Event, RejectReason
from contracts.subjects import COORDINATOR
from services.coordinator.credit.rules import (
    Listing,
    ListingNotPermitted,
    ListingRefused,
    apply_delisting,
    apply_listing,
    credit_warning,
)
from services.coordinator.credit.store import (
    agency_ids_naming,
    case_names,
    load_listing,
    save_listing,
)
from services.runtime.bus import PermanentError, StepRefused
from services.runtime.storage import take_turns
from services.sdk import ServiceContext, UnitOfWork

__all__ = ["CreditFlow"]


class CreditFlow:
    """Records credit listings and routes them (the pipeline feeds it every case event)."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.registry = context.registry
        self.log = context.log

    def turns(self, event: Event) -> set[str]:
        """The cross-case turn observing ``event`` takes: one listing per company."""
        payload = event.payload
        if isinstance(payload, CreditListed | CreditDelisted):
            return {f"credit:{payload.credit_code}"}
        return set()

    async def observe_credit(self, uow: UnitOfWork, event: Event, case_id: str) -> None:
        payload = event.payload
        if not isinstance(payload, CreditListed | CreditDelisted):
            return
        # one listing per company across its cases, which several partitions apply
        await take_turns(uow.session, *self.turns(event))
        current = await load_listing(uow.session, payload.credit_code, payload.credit_list)
        try:
            if isinstance(payload, CreditListed):
                if not await case_names(uow.session, case_id, payload.credit_code):
                    raise ListingRefused(
                        f"case {case_id} names no company {payload.credit_code}: a listing "
                        "is filed on the case of the penalty it rests on"
                    )
                listing = apply_listing(current, payload, sender=event.sender, case_id=case_id)
            else:
                listing = apply_delisting(current, payload, sender=event.sender)
        except ListingNotPermitted as exc:
            raise PermanentError(RejectReason.NOT_PERMITTED, str(exc)) from exc
        except ListingRefused as exc:
            raise StepRefused(str(exc)) from exc
        await save_listing(uow.session, listing)
        await self._route(uow, listing)

    async def _route(self, uow: UnitOfWork, listing: Listing) -> None:
        agencies = {listing.listed_by, *await agency_ids_naming(uow.session, listing.credit_code)}
        regions = [self.registry.get(a).region for a in agencies if a in self.registry]
        warning = credit_warning(listing, regions, uow.now)
        self.log.info(
            "credit listing routed", state=listing.state.value, warning_id=warning.warning_id
        )
        # Not filed under the case: the warning is about a company across cases, and its
        # recipients must not become parties to this case (as for linkage signals).
        detached = UnitOfWork(uow.session, self.context)
        uow.emitted.append(
            detached.emit(warning, to=COORDINATOR, correlation_id=warning.warning_id)
        )
