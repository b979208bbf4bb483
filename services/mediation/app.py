"""The mediation / arbitration centre adapter, built with the adapter SDK alone.

It opens a case for each dispute it mediates, sends ``mediation_confirmation`` referrals to
courts, and closes its case when the court concludes the referral. Everything else —
signing, outbox, inbox, receipts, the referral ledger — comes from
:class:`~services.sdk.agency_adapter.AgencyAdapter`.
"""

from typing import ClassVar

from contracts.cases import Party
from contracts.envelope import Event
from contracts.referrals import ReferralKind, ReferralState
from services.mediation.domain import (
    AgreementNotConfirmable,
    MediationAgreement,
    confirmation_request,
)
from services.runtime.bus import StepRefused
from services.sdk import AgencyAdapter, LocalCaseRecord, ReferralRecord, UnitOfWork

__all__ = ["MediationService"]


class MediationService(AgencyAdapter):
    """One mediation or arbitration centre on the bus."""

    service_name: ClassVar[str] = "mediation"

    async def request_confirmation(
        self,
        uow: UnitOfWork,
        agreement: MediationAgreement,
        *,
        court: str,
        parties: tuple[Party, ...] = (),
    ) -> ReferralRecord:
        """Open our case for the agreement (if not yet open) and ask ``court`` to confirm it."""
        try:
            request = confirmation_request(agreement, self.registry.get(court), now=uow.now)
        except AgreementNotConfirmable as exc:
            raise StepRefused(str(exc)) from exc
        if await uow.session.get(LocalCaseRecord, agreement.case_id) is None:
            await self.open_case(
                uow,
                case_id=agreement.case_id,
                local_ref=agreement.local_ref,
                title=agreement.title,
                parties=parties,
            )
        return await self.issue_referral(
            uow,
            case_id=agreement.case_id,
            to=court,
            kind=ReferralKind.MEDIATION_CONFIRMATION,
            reason=request.reason,
            legal_basis=request.legal_basis,
            summary=request.summary,
            amount=agreement.amount,
        )

    async def on_referral_changed(
        self, uow: UnitOfWork, referral: ReferralRecord, event: Event
    ) -> None:
        """The court concluded our request: the mediated matter is closed on our side."""
        if (
            referral.kind == ReferralKind.MEDIATION_CONFIRMATION.value
            and referral.state == ReferralState.CONCLUDED.value
        ):
            outcome = f"court {referral.recipient}: {referral.note or 'concluded'}"
            await self.close_case(uow, referral.case_id, outcome=outcome)
