"""The judicial adapter: public security, procuratorate and courts.

Receives transferred cases (acknowledged automatically on arrival); public security files
them or returns non-criminal ones to the regulator, the procuratorate supervises refusals
and prosecutes, courts try cases and confirm mediation agreements.
"""

from datetime import datetime
from typing import ClassVar

from contracts.cases import CaseStatus
from contracts.identifiers import Money
from contracts.judicial import (
    AppealedBy,
    ConfirmationIssued,
    JudgmentAppealed,
    JudgmentFinal,
    JudgmentRendered,
    ProsecutionDeclined,
)
from contracts.oversight import OversightSuggested
from contracts.referrals import ReferralKind
from contracts.senders import in_whose_name
from contracts.subjects import COORDINATOR
from services.judicial.domain import JudicialAct, NotOurPower, check_power, regulator_for
from services.runtime.bus import StepRefused
from services.runtime.law import Period, RuleNotInForce, due_at
from services.sdk import AgencyAdapter, LocalCaseRecord, ReferralRecord, UnitOfWork

__all__ = ["JudicialService"]

REPLY_RULE = "oversight.reply"
RETURN_BASIS = "Decree 310 (rev. 2020) art. 18: cases not criminal go back to the regulator"


class JudicialService(AgencyAdapter):
    """One police bureau, procuratorate or court on the bus."""

    service_name: ClassVar[str] = "judicial"

    def _may(self, act: JudicialAct) -> None:
        try:
            check_power(self.agency.role, act)
        except NotOurPower as exc:
            raise StepRefused(f"{self.agency.id}: {exc}") from exc

    # -- public security ----------------------------------------------------------------

    async def file_case(
        self, uow: UnitOfWork, referral_id: str, *, local_ref: str, title: str
    ) -> LocalCaseRecord:
        """Accept a transferred case by filing it (立案) under our own reference."""
        self._may(JudicialAct.FILE)
        referral = await self.accept_referral(uow, referral_id, local_ref=local_ref)
        return await self.open_case(uow, case_id=referral.case_id, local_ref=local_ref, title=title)

    async def return_non_criminal(
        self, uow: UnitOfWork, case_id: str, *, reason: str, summary: str
    ) -> ReferralRecord:
        """Hand a case that is not criminal back to the regulator (``criminal_to_admin``)."""
        self._may(JudicialAct.RETURN_NON_CRIMINAL)
        try:
            regulator = regulator_for(self.registry, self.agency.region)
        except NotOurPower as exc:
            raise StepRefused(str(exc)) from exc
        return await self.issue_referral(
            uow,
            case_id=case_id,
            to=regulator,
            kind=ReferralKind.CRIMINAL_TO_ADMIN,
            reason=reason,
            legal_basis=RETURN_BASIS,
            summary=summary,
        )

    # -- procuratorate ------------------------------------------------------------------

    async def suggest_transfer(
        self,
        uow: UnitOfWork,
        case_id: str,
        oversight_id: str,
        *,
        regulator: str,
        reason: str,
        reply_by: datetime | None = None,
    ) -> OversightSuggested:
        """On a flagged case: ask the regulator to transfer it, or to say why not, by
        ``reply_by`` (else the period of rule ``oversight.reply`` in force today)."""
        self._may(JudicialAct.SUPERVISE)
        now = self.clock.now()
        try:
            rule = self.context.rules.in_force(REPLY_RULE, now.date())
        except RuleNotInForce as exc:
            raise StepRefused(str(exc)) from exc
        if reply_by is None:
            reply_by = due_at(now, rule.values_as(Period), self.business_calendar)
        suggestion = OversightSuggested(
            oversight_id=oversight_id,
            case_id=case_id,
            reason=reason,
            reply_by=reply_by,
            reply_rule=rule.version,
        )
        uow.emit(suggestion, to=regulator, case_id=case_id)
        return suggestion

    async def prosecute(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        local_ref: str,
        title: str,
        court: str = COORDINATOR,
    ) -> LocalCaseRecord:
        """Take the case up for prosecution (审查起诉), before ``court`` when it is known.

        Addressing the court makes it a party to the case (DESIGN §4a), so that it may open
        its part and try it.
        """
        self._may(JudicialAct.PROSECUTE)
        await self.open_case(uow, case_id=case_id, local_ref=local_ref, title=title)
        return await self.change_case_status(uow, case_id, CaseStatus.PROSECUTING, to=court)

    async def decline_prosecution(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        decision_ref: str,
        grounds: str,
        decided_at: datetime | None = None,
    ) -> ProsecutionDeclined:
        """Decide not to prosecute (不起诉, Criminal Procedure Law arts. 175–177)."""
        self._may(JudicialAct.DECLINE_PROSECUTION)
        decision = ProsecutionDeclined(
            case_id=case_id,
            decision_ref=decision_ref,
            grounds=grounds,
            decided_at=decided_at or uow.now,
        )
        uow.emit(decision, to=COORDINATOR, case_id=case_id)
        return decision

    async def challenge_judgment(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        court_ref: str,
        appealed_by: AppealedBy,
        note: str = "",
        appealed_at: datetime | None = None,
    ) -> JudgmentAppealed:
        """A court records an appeal it received; a procuratorate lodges its protest (抗诉),
        which is always ``appealed_by`` the procuratorate."""
        self._may(JudicialAct.CHALLENGE_JUDGMENT)
        appeal = JudgmentAppealed(
            case_id=case_id,
            court_ref=court_ref,
            appealed_by=appealed_by,
            appealed_at=appealed_at or uow.now,
            note=note,
        )
        if (problem := in_whose_name(appeal, self.agency)) is not None:
            raise StepRefused(problem)  # the bus would dead-letter it: say so before sending
        uow.emit(appeal, to=COORDINATOR, case_id=case_id)
        return appeal

    # -- courts -------------------------------------------------------------------------

    async def start_trial(
        self, uow: UnitOfWork, case_id: str, *, local_ref: str, title: str
    ) -> LocalCaseRecord:
        self._may(JudicialAct.TRY)
        await self.open_case(uow, case_id=case_id, local_ref=local_ref, title=title)
        return await self.change_case_status(uow, case_id, CaseStatus.IN_TRIAL)

    async def render_judgment(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        court_ref: str,
        verdict: str,
        sentence: str = "",
        fine: Money | None = None,
        rendered_at: datetime | None = None,
    ) -> JudgmentRendered:
        self._may(JudicialAct.RENDER_JUDGMENT)
        judgment = JudgmentRendered(
            case_id=case_id,
            court_ref=court_ref,
            verdict=verdict,
            sentence=sentence,
            fine=fine,
            rendered_at=rendered_at or uow.now,
        )
        uow.emit(judgment, to=COORDINATOR, case_id=case_id)
        return judgment

    async def judgment_final(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        court_ref: str,
        verdict: str = "",
        final_at: datetime | None = None,
    ) -> JudgmentFinal:
        """Record that the judgment became legally effective (生效)."""
        self._may(JudicialAct.FINALIZE_JUDGMENT)
        final = JudgmentFinal(
            case_id=case_id, court_ref=court_ref, verdict=verdict, final_at=final_at or uow.now
        )
        uow.emit(final, to=COORDINATOR, case_id=case_id)
        return final

    async def confirm_mediation(
        self,
        uow: UnitOfWork,
        referral_id: str,
        *,
        confirmation_ref: str,
        confirmed: bool,
        note: str = "",
    ) -> ConfirmationIssued:
        """Rule on a mediation agreement referred for judicial confirmation, and conclude."""
        self._may(JudicialAct.CONFIRM_MEDIATION)
        referral = await self.referral(uow, referral_id)
        if referral.kind != ReferralKind.MEDIATION_CONFIRMATION.value:
            raise StepRefused(f"referral {referral_id} is {referral.kind}, not a mediation")
        issued = ConfirmationIssued(
            referral_id=referral_id,
            case_id=referral.case_id,
            confirmation_ref=confirmation_ref,
            confirmed=confirmed,
            note=note,
        )
        uow.emit(issued, to=referral.sender, case_id=referral.case_id)
        verdict = "confirmed" if confirmed else "confirmation refused"
        await self.conclude_referral(uow, referral_id, outcome=f"{verdict} ({confirmation_ref})")
        return issued
