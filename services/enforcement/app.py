"""The administrative enforcement adapter (market regulation / IP offices)."""

from typing import ClassVar

from contracts.agencies import AgencyKind, JudicialRole
from contracts.cases import CaseStatus
from contracts.identifiers import Money
from contracts.referrals import ReferralKind
from services.enforcement.domain import (
    Findings,
    Penalty,
    PenaltyRefused,
    ThresholdPolicy,
    assess_penalty,
    criminal_threshold_met,
    transfer_reason,
)
from services.runtime.adapter import ServiceContext, UnitOfWork
from services.runtime.agency_adapter import AgencyAdapter
from services.runtime.errors import ConfigurationError, StepRefused
from services.runtime.policy import policy_section
from services.runtime.referral_desk import ReferralRecord

__all__ = ["EnforcementService"]

TRANSFER_BASIS = (
    "Provisions on the Transfer of Suspected Criminal Cases by Administrative Law "
    "Enforcement Agencies (Decree 310, rev. 2020), art. 3"
)


class EnforcementService(AgencyAdapter):
    """One market-regulation office (e.g. ``amr-shanghai``) on the bus."""

    service_name: ClassVar[str] = "enforcement"

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        self.thresholds = policy_section(context.policy, "enforcement", ThresholdPolicy)

    async def impose_penalty(
        self, uow: UnitOfWork, case_id: str, *, illegal_volume: Money, fine: Money
    ) -> Penalty:
        """Decide an administrative penalty on a case this office works."""
        try:
            penalty = assess_penalty(illegal_volume, fine)
        except PenaltyRefused as exc:
            raise StepRefused(str(exc)) from exc
        await self.change_case_status(uow, case_id, CaseStatus.PENALIZED, note=penalty.note)
        return penalty

    async def conclude_administrative_case(
        self, uow: UnitOfWork, case_id: str, findings: Findings, *, outcome: str
    ) -> ReferralRecord | None:
        """Finish our case; when the sums are criminal, transfer it to public security.

        Returns the ``admin_to_criminal`` referral, or ``None`` when the case was closed.
        """
        try:
            row = criminal_threshold_met(findings, self.thresholds.criminal_thresholds)
        except PenaltyRefused as exc:
            raise StepRefused(str(exc)) from exc
        if row is None:
            await self.close_case(uow, case_id, outcome=outcome)
            return None
        return await self.issue_referral(
            uow,
            case_id=case_id,
            to=self._public_security(),
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason=transfer_reason(findings, row),
            legal_basis=TRANSFER_BASIS,
            summary=outcome,
            amount=findings.illegal_business_volume,
        )

    def _public_security(self) -> str:
        """The bureau competent for our region at the nearest level (district, city, ...)."""
        bureau = self.registry.public_security_for(self.agency.region)
        if bureau is None:
            raise ConfigurationError(f"no public security bureau for region {self.agency.region}")
        return bureau.id
