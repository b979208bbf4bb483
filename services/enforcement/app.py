"""The administrative enforcement adapter (market regulation / IP offices)."""

from typing import ClassVar

from contracts.cases import CaseStatus
from contracts.credit import CreditDelisted, CreditList, CreditListed, DelistingReason
from contracts.handover import ItemsHandedOver
from contracts.identifiers import Money
from contracts.oversight import OversightAnswered
from contracts.referrals import ReferralKind, ReferralState
from contracts.subjects import COORDINATOR
from services.enforcement.credit import ListingPeriod, listing_dates, listing_rule_name
from services.enforcement.domain import (
    Findings,
    Penalty,
    PenaltyRefused,
    assess_penalty,
    suspicion_basis,
    transfer_basis,
)
from services.runtime.bus import ConfigurationError, StepRefused
from services.runtime.law import (
    Period,
    RuleNotInForce,
    ThresholdCrossed,
    ThresholdUnassessable,
    check_threshold_rules,
    crossed_threshold,
    due_at,
)
from services.sdk import AgencyAdapter, ReferralRecord, ServiceContext, UnitOfWork

__all__ = ["EnforcementService"]

SUSPICION_RULE = "transfer.on_suspicion"
HANDOVER_RULE = "transfer.handover"


class EnforcementService(AgencyAdapter):
    """One market-regulation office (e.g. ``amr-shanghai``) on the bus."""

    service_name: ClassVar[str] = "enforcement"

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        check_threshold_rules(context.rules)

    async def list_party(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        credit_code: str,
        party_name: str,
        grounds: str,
        decision_ref: str,
        credit_list: CreditList = CreditList.SERIOUS_VIOLATION,
    ) -> CreditListed:
        """List a company on a credit list on the case the penalty was decided on (SAMR Order
        44): the early-removal and end dates come from the rule in force on the local day."""
        await self.local_case(uow, case_id)  # only a case we work
        now = self.clock.now()
        on = self.business_calendar.local_date(now)
        try:
            rule = self.context.rules.in_force(listing_rule_name(credit_list), on)
        except RuleNotInForce as exc:
            raise StepRefused(str(exc)) from exc
        removal_from, expires_on = listing_dates(on, rule.values_as(ListingPeriod))
        listed = CreditListed(
            credit_code=credit_code,
            party_name=party_name,
            credit_list=credit_list,
            grounds=grounds,
            legal_basis=f"{rule.source} [{rule.version}]",
            decision_ref=decision_ref,
            listed_at=now,
            removal_from=removal_from,
            expires_on=expires_on,
        )
        uow.emit(listed, to=COORDINATOR, case_id=case_id)
        return listed

    async def delist_party(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        credit_code: str,
        reason: DelistingReason,
        grounds: str,
        decision_ref: str,
        credit_list: CreditList = CreditList.SERIOUS_VIOLATION,
    ) -> CreditDelisted:
        """Lift a listing we decided, on the case it was filed on."""
        await self.local_case(uow, case_id)
        delisted = CreditDelisted(
            credit_code=credit_code,
            credit_list=credit_list,
            reason=reason,
            grounds=grounds,
            decision_ref=decision_ref,
            delisted_at=self.clock.now(),
        )
        uow.emit(delisted, to=COORDINATOR, case_id=case_id)
        return delisted

    async def impose_penalty(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        illegal_volume: Money,
        fine: Money,
        findings: Findings | None = None,
    ) -> Penalty:
        """Decide an administrative penalty on a case this office works.

        The findings travel with the penalty, so the procuratorate's oversight can see a
        case penalised although it crossed a criminal threshold (Decree 310 art. 11).
        """
        try:
            penalty = assess_penalty(illegal_volume, fine)
        except PenaltyRefused as exc:
            raise StepRefused(str(exc)) from exc
        await self.change_case_status(
            uow, case_id, CaseStatus.PENALIZED, note=penalty.note, findings=findings
        )
        return penalty

    async def conclude_administrative_case(
        self, uow: UnitOfWork, case_id: str, findings: Findings, *, outcome: str
    ) -> ReferralRecord | None:
        """Finish our case; when the findings cross a threshold in force on the date of the
        act, transfer it to public security, recording the rule version in the legal basis.

        Returns the ``admin_to_criminal`` referral, or ``None`` when the case was closed.
        """
        crossed = self._crossed(findings)
        if crossed is None:
            await self.close_case(uow, case_id, outcome=outcome)
            return None
        return await self.issue_referral(
            uow,
            case_id=case_id,
            to=self._public_security(),
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason=crossed.reason(findings),
            legal_basis=transfer_basis(crossed),
            summary=outcome,
            amount=findings.illegal_business_volume or findings.sales_amount,
        )

    async def transfer_on_suspicion(
        self, uow: UnitOfWork, case_id: str, *, grounds: str, findings: Findings | None = None
    ) -> ReferralRecord:
        """Transfer during the investigation: in IP cases a reasonable suspicion of crime is
        enough, when public security's measures are needed to tell whether the standard is
        met (Decree 310 (rev. 2020) art. 3 para. 2). Findings so far, if any, are assessed too
        and a threshold reached is recorded with its version."""
        on = (findings.committed_on if findings else None) or self.clock.now().date()
        try:
            rule = self.context.rules.in_force(SUSPICION_RULE, on)
        except RuleNotInForce as exc:
            raise StepRefused(str(exc)) from exc
        reason = f"reasonable suspicion of crime: {grounds}"
        crossed, amount = None, None
        if findings is not None:
            crossed = self._crossed(findings)
            amount = findings.illegal_business_volume or findings.sales_amount
            if crossed is not None:
                reason += f"; {crossed.reason(findings)}"
        return await self.issue_referral(
            uow,
            case_id=case_id,
            to=self._public_security(),
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason=reason,
            legal_basis=suspicion_basis(rule, crossed),
            summary=grounds,
            amount=amount,
        )

    async def hand_over_seized_items(
        self, uow: UnitOfWork, referral_id: str, *, inventory: list[str]
    ) -> ItemsHandedOver:
        """After public security filed our transfer, hand over what we seized, within the
        period of rule ``transfer.handover`` (Decree 310 art. 12) counted from the filing
        notice; a late handover is still recorded, with when it was due."""
        record = await self.referral(uow, referral_id)
        if record.kind != ReferralKind.ADMIN_TO_CRIMINAL.value or record.sender != self.agency.id:
            raise StepRefused(f"referral {referral_id} is not a transfer of ours to the police")
        if record.state != ReferralState.ACCEPTED.value:
            raise StepRefused(f"public security has not filed referral {referral_id} yet")
        filed_at = record.updated_at
        try:
            rule = self.context.rules.in_force(HANDOVER_RULE, filed_at.date())
        except RuleNotInForce as exc:
            raise StepRefused(str(exc)) from exc
        handed_over = ItemsHandedOver(
            referral_id=referral_id,
            case_id=record.case_id,
            inventory=inventory,
            handed_over_at=self.clock.now(),
            due_by=due_at(filed_at, rule.values_as(Period), self.business_calendar),
            handover_rule=rule.version,
        )
        uow.emit(handed_over, to=record.recipient, case_id=record.case_id)
        return handed_over

    async def answer_oversight(
        self, uow: UnitOfWork, case_id: str, oversight_id: str, *, explanation: str
    ) -> None:
        """Explain to the supervising procuratorate why a flagged case is not transferred
        (to transfer it instead, call :meth:`transfer_on_suspicion` or conclude the case)."""
        procuratorate = self.registry.procuratorate_for(self.agency.region)
        if procuratorate is None:
            raise ConfigurationError(f"no procuratorate for region {self.agency.region}")
        uow.emit(
            OversightAnswered(oversight_id=oversight_id, case_id=case_id, explanation=explanation),
            to=procuratorate.id,
            case_id=case_id,
        )

    def _crossed(self, findings: Findings) -> ThresholdCrossed | None:
        try:
            return crossed_threshold(findings, self.context.rules)
        except ThresholdUnassessable as exc:
            raise StepRefused(str(exc)) from exc

    def _public_security(self) -> str:
        """The bureau competent for our region at the nearest level (district, city, ...)."""
        bureau = self.registry.public_security_for(self.agency.region)
        if bureau is None:
            raise ConfigurationError(f"no public security bureau for region {self.agency.region}")
        return bureau.id
