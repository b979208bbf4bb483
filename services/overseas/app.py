"""The overseas IP-dispute response centre adapter.

It warns domestic agencies of risks met abroad (``overseas_litigation``,
``overseas_squatting``, ``counterfeit_route``) through the coordinator, and takes
``overseas_assistance`` referrals — whose payloads the senders have minimised on the way out
(DESIGN §6, :mod:`services.runtime.privacy.minimisation`). Any other kind of referral is declined
at once with the reason, so the sender is not left waiting for a deadline.
"""

from typing import ClassVar

from contracts.agencies import WarningCategory
from contracts.referrals import ReferralIssued, ReferralKind
from services.sdk import AgencyAdapter, ReferralRecord, UnitOfWork

__all__ = ["OverseasService"]


class OverseasService(AgencyAdapter):
    """The national overseas centre on the bus."""

    service_name: ClassVar[str] = "overseas"
    issuable_categories: ClassVar[frozenset[WarningCategory]] = frozenset(
        {
            WarningCategory.OVERSEAS_LITIGATION,
            WarningCategory.OVERSEAS_SQUATTING,
            WarningCategory.COUNTERFEIT_ROUTE,
        }
    )

    async def on_referral_received(
        self, uow: UnitOfWork, referral: ReferralRecord, issued: ReferralIssued
    ) -> None:
        if issued.kind is not ReferralKind.OVERSEAS_ASSISTANCE:
            await self.decline_referral(
                uow,
                referral.referral_id,
                reason=f"overseas centre: overseas_assistance only, not {issued.kind.value}",
            )
