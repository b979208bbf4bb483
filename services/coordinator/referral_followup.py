"""What the coordinator does after a referral step lands in the shared case file.

It starts the clocks the step opens, stops the ones it meets, and copies the referral's new
state to every party that neither took nor received the step — above all the procuratorate
of the recipient's region, which must know of every transfer and every decline there.
"""

from contracts.envelope import Event
from contracts.linkage import ReferralCopied
from contracts.referrals import REFERRAL_STEPS, ReferralKind
from services.coordinator.deadline_store import open_deadlines, settle_deadlines
from services.coordinator.deadlines import DeadlinePolicy, deadlines_opened
from services.coordinator.domain import CaseFile, CaseReferral
from services.runtime.adapter import UnitOfWork
from services.runtime.business_calendar import BusinessCalendar

__all__ = ["follow_referral_step"]


async def follow_referral_step(
    uow: UnitOfWork,
    case: CaseFile,
    event: Event,
    *,
    policy: DeadlinePolicy,
    calendar: BusinessCalendar,
) -> CaseReferral | None:
    """Deadlines and copies for a referral step already applied to ``case``."""
    if event.event_type not in REFERRAL_STEPS:
        return None
    referral = case.referrals[getattr(event.payload, "referral_id")]  # noqa: B009
    at = event.envelope.time
    await settle_deadlines(uow.session, referral.referral_id, referral.state, uow.now)
    await open_deadlines(
        uow.session,
        referral_id=referral.referral_id,
        case_id=case.case_id,
        kind=ReferralKind(referral.kind),
        sender=referral.sender,
        recipient=referral.recipient,
        supervisor=referral.supervisor,
        started_at=at,
        deadlines=deadlines_opened(
            ReferralKind(referral.kind), event.event_type, at, policy, calendar
        ),
    )
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
    return referral
