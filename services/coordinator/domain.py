"""The coordinator's rules, pure: how events make one shared case file.

No I/O, no clock, no broker. The app loads a :class:`CaseFile`, calls :func:`apply_event`
and stores what comes back.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatch

from contracts.base import Payload
from contracts.cases import CaseClosed, CaseOpened, CaseStatus, CaseStatusChanged
from contracts.customs import GoodsConfiscated, GoodsDetained, GoodsReleased
from contracts.judicial import ConfirmationIssued, JudgmentRendered
from contracts.referrals import (
    IllegalReferralStep,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralIssued,
    ReferralOverdue,
    ReferralParty,
    ReferralState,
    ReferralWithdrawn,
    step_referral,
)
from contracts.subjects import COORDINATOR

__all__ = [
    "COORDINATOR",
    "CaseFile",
    "CaseReferral",
    "EventFacts",
    "RefusedStep",
    "TimelineLine",
    "apply_event",
    "case_id_of",
    "may_see",
    "summarize",
]


class RefusedStep(ValueError):
    """An event the shared case file cannot take (e.g. a referral step out of order)."""


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the coordinator needs of one event, independent of the wire."""

    event_id: str
    event_type: str
    sender: str
    recipient: str
    time: datetime
    payload: Payload


@dataclass(frozen=True, slots=True)
class CaseReferral:
    referral_id: str
    kind: str
    sender: str
    recipient: str
    state: ReferralState
    issued_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TimelineLine:
    event_id: str
    event_type: str
    sender: str
    recipient: str
    time: datetime
    summary: str
    status_after: CaseStatus


@dataclass(frozen=True, slots=True)
class CaseFile:
    """One case across agencies: its shared status and who is party to it."""

    case_id: str
    title: str = ""
    status: CaseStatus = CaseStatus.OPEN
    parties: dict[str, str | None] = field(default_factory=dict)
    """agency id → that agency's local reference (None until it opens its own case)."""
    referrals: dict[str, CaseReferral] = field(default_factory=dict)


def case_id_of(subject: str | None, payload: Payload) -> str | None:
    """The case an event is about: the envelope subject, else the payload's ``case_id``."""
    return subject or getattr(payload, "case_id", None)


def may_see(case: CaseFile, requester: str) -> bool:
    """Need-to-know: only agencies party to the case (and the coordinator itself)."""
    return requester == COORDINATOR or requester in case.parties


def apply_event(case: CaseFile, facts: EventFacts) -> tuple[CaseFile, TimelineLine]:
    """The case file after ``facts``, and the timeline line that records it."""
    named = getattr(facts.payload, "case_id", None)
    if named is not None and named != case.case_id:
        raise RefusedStep(
            f"{facts.event_type} names case {named} but is filed under case {case.case_id}"
        )
    referrals = _step_referrals(case.referrals, facts)
    parties = dict(case.parties)
    for agency in (facts.sender, facts.recipient):
        if agency != COORDINATOR:
            parties.setdefault(agency, None)
    local_ref = getattr(facts.payload, "local_ref", None)
    if isinstance(facts.payload, CaseOpened | ReferralAccepted) and local_ref:
        parties[facts.sender] = local_ref  # the opener, or the referral's new owner
    title = case.title
    if isinstance(facts.payload, CaseOpened) and not title:
        title = facts.payload.title
    status = _status_after(case.status, facts.payload)
    updated = replace(case, title=title, status=status, parties=parties, referrals=referrals)
    line = TimelineLine(
        event_id=facts.event_id,
        event_type=facts.event_type,
        sender=facts.sender,
        recipient=facts.recipient,
        time=facts.time,
        summary=summarize(facts.payload),
        status_after=status,
    )
    return updated, line


def _step_referrals(
    referrals: dict[str, CaseReferral], facts: EventFacts
) -> dict[str, CaseReferral]:
    payload = facts.payload
    referral_id = getattr(payload, "referral_id", None)
    if referral_id is None or isinstance(payload, ReferralOverdue | ConfirmationIssued):
        return referrals
    current = referrals.get(referral_id)
    if isinstance(payload, ReferralIssued):
        if current is not None:
            raise RefusedStep(f"referral {referral_id} was already issued")
        state = step_referral(None, facts.event_type, ReferralParty.SENDER)
        new = CaseReferral(
            referral_id,
            payload.kind.value,
            facts.sender,
            facts.recipient,
            state,
            facts.time,
            facts.time,
        )
        return {**referrals, referral_id: new}
    if current is None:
        raise RefusedStep(f"referral {referral_id} is not known on this case")
    if facts.sender == current.sender:
        by = ReferralParty.SENDER
    elif facts.sender == current.recipient:
        by = ReferralParty.RECIPIENT
    else:
        raise RefusedStep(f"{facts.sender} is not party to referral {referral_id}")
    try:
        state = step_referral(current.state, facts.event_type, by)
    except IllegalReferralStep as exc:
        raise RefusedStep(f"referral {referral_id}: {exc}") from exc
    return {**referrals, referral_id: replace(current, state=state, updated_at=facts.time)}


def _status_after(current: CaseStatus, payload: Payload) -> CaseStatus:
    """The shared status vocabulary (DESIGN §5) derived from what happened."""
    match payload:
        case CaseStatusChanged(status=status):
            return status
        case CaseClosed():
            return CaseStatus.CLOSED
        case ReferralIssued():
            return CaseStatus.REFERRED
        case ReferralAccepted():
            return CaseStatus.INVESTIGATING
        case ReferralDeclined():
            return CaseStatus.DECLINED
        case JudgmentRendered():
            return CaseStatus.JUDGED
        case _:
            return current


@singledispatch
def summarize(payload: Payload) -> str:
    """One line a person reads in the timeline."""
    return payload.event_type


@summarize.register
def _(p: CaseOpened) -> str:
    return f"opened {p.local_ref}: {p.title}"


@summarize.register
def _(p: CaseStatusChanged) -> str:
    return f"{p.local_ref} is now {p.status.value}" + (f" — {p.note}" if p.note else "")


@summarize.register
def _(p: CaseClosed) -> str:
    return f"closed {p.local_ref}: {p.outcome}"


@summarize.register
def _(p: GoodsDetained) -> str:
    value = p.declared_value
    return (
        f"detained {p.quantity} × HS {p.hs_code} at {p.port} "
        f"(declared {value.value} {value.currency})"
    )


@summarize.register
def _(p: GoodsReleased) -> str:
    return f"released detained goods: {p.reason}"


@summarize.register
def _(p: GoodsConfiscated) -> str:
    return f"confiscated detained goods ({p.decision_ref})"


@summarize.register
def _(p: ReferralIssued) -> str:
    return f"referral {p.kind.value}: {p.reason}"


@summarize.register
def _(p: ReferralAcknowledged) -> str:
    return f"receipt {p.receipt}"


@summarize.register
def _(p: ReferralAccepted) -> str:
    return f"accepted as {p.local_ref}"


@summarize.register
def _(p: ReferralDeclined) -> str:
    return f"declined: {p.reason}"


@summarize.register
def _(p: ReferralConcluded) -> str:
    return f"concluded: {p.outcome}"


@summarize.register
def _(p: ReferralWithdrawn) -> str:
    return f"withdrawn: {p.reason}"


@summarize.register
def _(p: ReferralOverdue) -> str:
    return f"OVERDUE at stage {p.stage.value} (due {p.due_at:%Y-%m-%d %H:%M} UTC)"


@summarize.register
def _(p: JudgmentRendered) -> str:
    return f"judgment {p.court_ref}: {p.verdict}"


@summarize.register
def _(p: ConfirmationIssued) -> str:
    verdict = "confirmed" if p.confirmed else "refused confirmation"
    return f"{verdict} ({p.confirmation_ref})"
