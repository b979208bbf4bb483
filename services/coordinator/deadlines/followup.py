"""What the coordinator does after a referral step lands in the shared case file.

It starts the clocks the step opens, stops the ones it meets, moves one on a lawful
extension or clock stop, and copies the referral's new state to every party that neither
took nor received the step — above all the procuratorate of the recipient's region, which
must know of every transfer and every decline there.
"""

from contracts.cases import CaseCancelled
from contracts.envelope import Event
from contracts.judicial import JudgmentFinal
from contracts.linkage import ReferralCopied
from contracts.referral_clocks import ReferralClockResumed, ReferralClockStopped, ReferralExtended
from contracts.referrals import CLOCK_STEPS, REFERRAL_STEPS, ReferralKind
from services.coordinator.cases.domain import CaseFile, CaseReferral
from services.coordinator.deadlines.clock_steps import apply_clock_step
from services.coordinator.deadlines.rules import DeadlineStepRefused, deadlines_opened
from services.coordinator.deadlines.store import ReferralClocks, settle_case_deadlines
from services.runtime.bus import StepRefused
from services.runtime.law import BusinessCalendar, RuleBook
from services.runtime.ops import AgencyMetrics
from services.sdk import UnitOfWork

__all__ = ["follow_case_outcome", "follow_referral_step"]


async def follow_referral_step(
    uow: UnitOfWork,
    case: CaseFile,
    event: Event,
    referral: CaseReferral | None,
    *,
    clocks: ReferralClocks,
    rules: RuleBook,
    calendar: BusinessCalendar,
    metrics: AgencyMetrics | None = None,
) -> None:
    """Deadlines and copies for a referral step already applied to ``case``; ``referral``
    is the one it is about, as ``case`` now holds it; ``clocks``, the transaction's
    deadline rows."""
    if event.event_type not in CLOCK_STEPS and event.event_type not in REFERRAL_STEPS:
        return
    if referral is None:
        raise LookupError(f"{event.event_type} names a referral not on case {case.case_id}")
    if event.event_type in CLOCK_STEPS:
        step = event.payload
        assert isinstance(step, ReferralExtended | ReferralClockStopped | ReferralClockResumed)
        try:
            row = await apply_clock_step(
                uow.session,
                step,
                kind=ReferralKind(referral.kind),
                at=event.envelope.time,
                rules=rules,
                calendar=calendar,
            )
        except DeadlineStepRefused as exc:
            raise StepRefused(f"referral {step.referral_id}: {exc}") from exc
        if row.problem is not None and metrics is not None:
            metrics.calendar_not_covered(f"referral.{row.stage}")
        return
    at = event.envelope.time
    await clocks.settle(referral.referral_id, referral.state, uow.now)
    opened = deadlines_opened(ReferralKind(referral.kind), event.event_type, at, rules, calendar)
    await clocks.open(
        referral_id=referral.referral_id,
        case_id=case.case_id,
        kind=ReferralKind(referral.kind),
        sender=referral.sender,
        recipient=referral.recipient,
        supervisor=referral.supervisor,
        started_at=at,
        deadlines=opened,
    )
    for deadline in opened:
        if deadline.problem is not None and metrics is not None:
            metrics.calendar_not_covered(f"referral.{deadline.stage.value}")
    told = {event.sender, event.recipient}
    copy = ReferralCopied(
        referral_id=referral.referral_id,
        case_id=case.case_id,
        kind=ReferralKind(referral.kind),
        sender=referral.sender,
        recipient=referral.recipient,
        state=referral.state,
        step=event.event_type,
        note=getattr(event.payload, "reason", None) or "",
    )
    for party in (referral.sender, referral.recipient, referral.supervisor):
        if party is not None and party not in told:
            told.add(party)
            uow.emit(copy, to=party, case_id=case.case_id)


async def follow_case_outcome(uow: UnitOfWork, case: CaseFile, event: Event) -> None:
    """The clocks an outcome ends: a final judgment ends the criminal linkage of the case, so
    every deadline still running on it stops being watched; a cancelled case stops the
    clocks of the referrals its canceller issued (the recipients' own referrals run on)."""
    if isinstance(event.payload, JudgmentFinal):
        await settle_case_deadlines(uow.session, case.case_id, uow.now)
    elif isinstance(event.payload, CaseCancelled):
        await settle_case_deadlines(uow.session, case.case_id, uow.now, sender=event.sender)
