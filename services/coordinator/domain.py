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
from contracts.handover import ItemsHandedOver
from contracts.judicial import ConfirmationIssued, JudgmentRendered
from contracts.linkage import (
    FilingNotified,
    ReconsiderationRequested,
    ReferralCopied,
    ReferralDeclineUpheld,
    ReferralRefused,
    RefusalExplained,
    SupervisionClosed,
    SupervisionOpened,
)
from contracts.oversight import OversightAnswered, OversightFlagged, OversightSuggested
from contracts.referrals import (
    IllegalReferralStep,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralIssued,
    ReferralKind,
    ReferralOverdue,
    ReferralParty,
    ReferralState,
    ReferralWithdrawn,
    step_referral,
)
from contracts.subjects import COORDINATOR

__all__ = [
    "COORDINATOR",
    "CRIMINAL_KINDS",
    "CaseFile",
    "CaseReferral",
    "EventFacts",
    "RefusedStep",
    "TimelineLine",
    "apply_event",
    "case_id_of",
    "may_see",
    "party_to_referral",
    "summarize",
]

CRIMINAL_KINDS = frozenset({ReferralKind.ADMIN_TO_CRIMINAL, ReferralKind.CUSTOMS_TO_CRIMINAL})
"""Kinds whose acceptance by public security is the decision to file a criminal case."""

_NOT_STEPS = (
    ReferralOverdue,
    ConfirmationIssued,
    ReferralCopied,
    ReferralRefused,
    ItemsHandedOver,  # a note on the referral (Decree 310 art. 12), not a step
)


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
    supervisor: str | None = None
    """For ``referral.issued``: the procuratorate of the recipient's region (registry lookup)."""


@dataclass(frozen=True, slots=True)
class CaseReferral:
    referral_id: str
    kind: str
    sender: str
    recipient: str
    state: ReferralState
    issued_at: datetime
    updated_at: datetime
    supervisor: str | None = None


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
    opened: frozenset[str] = frozenset()
    """Agencies that opened their own part of the case (``case.opened``)."""
    closed: frozenset[str] = frozenset()
    """Agencies that closed their part; the case is closed when every opener has."""


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
    referral = referrals.get(getattr(facts.payload, "referral_id", None) or "")
    kind = ReferralKind(referral.kind) if referral is not None else None
    opened, closed = case.opened, case.closed
    if isinstance(facts.payload, CaseOpened):
        opened = opened | {facts.sender}
    status = _status_after(case.status, facts.payload, kind)
    if isinstance(facts.payload, CaseClosed):
        closed = closed | {facts.sender}
        if not opened <= closed:  # others still work their part: the shared status stays
            status = case.status
    updated = replace(
        case,
        title=title,
        status=status,
        parties=parties,
        referrals=referrals,
        opened=opened,
        closed=closed,
    )
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
    if referral_id is None or isinstance(payload, _NOT_STEPS):
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
            facts.supervisor,
        )
        return {**referrals, referral_id: new}
    if current is None:
        raise RefusedStep(f"referral {referral_id} is not known on this case")
    by = party_to_referral(current, facts.sender)
    if by is None:
        raise RefusedStep(f"{facts.sender} is not party to referral {referral_id}")
    try:
        state = step_referral(current.state, facts.event_type, by)
    except IllegalReferralStep as exc:
        raise RefusedStep(f"referral {referral_id}: {exc}") from exc
    return {**referrals, referral_id: replace(current, state=state, updated_at=facts.time)}


def party_to_referral(referral: CaseReferral, agency_id: str) -> ReferralParty | None:
    """Which end of ``referral`` an agency is: sender, recipient, supervisor, or none."""
    if agency_id == referral.sender:
        return ReferralParty.SENDER
    if agency_id == referral.recipient:
        return ReferralParty.RECIPIENT
    if agency_id == referral.supervisor:
        return ReferralParty.SUPERVISOR
    return None


def _status_after(
    current: CaseStatus, payload: Payload, kind: ReferralKind | None = None
) -> CaseStatus:
    """The shared status vocabulary (DESIGN §5) derived from what happened.

    Public security accepting a criminal transfer *is* filing it; a court accepting a
    mediation agreement for confirmation puts the case before it; a court's confirmation
    of the agreement is its ruling on the case.
    """
    match payload:
        case CaseStatusChanged(status=status):
            return status
        case CaseClosed():
            return CaseStatus.CLOSED
        case ReferralIssued() | ReconsiderationRequested() | FilingNotified():
            return CaseStatus.REFERRED
        case ReferralAccepted() if kind in CRIMINAL_KINDS:
            return CaseStatus.FILED
        case ReferralAccepted() if kind is ReferralKind.MEDIATION_CONFIRMATION:
            return CaseStatus.IN_TRIAL
        case ReferralAccepted():
            return CaseStatus.INVESTIGATING
        case ReferralDeclined() | ReferralDeclineUpheld() | SupervisionClosed():
            return CaseStatus.DECLINED
        case JudgmentRendered():
            return CaseStatus.JUDGED
        case ConfirmationIssued(confirmed=True):
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


@summarize.register
def _(p: ReconsiderationRequested) -> str:
    return f"asks for reconsideration: {p.reason}"


@summarize.register
def _(p: ReferralDeclineUpheld) -> str:
    return f"decline upheld on reconsideration: {p.reason}"


@summarize.register
def _(p: SupervisionOpened) -> str:
    return f"supervision opened: {p.reason}"


@summarize.register
def _(p: RefusalExplained) -> str:
    return f"refusal explained: {p.explanation}"


@summarize.register
def _(p: FilingNotified) -> str:
    return f"notice to file: {p.reason}"


@summarize.register
def _(p: SupervisionClosed) -> str:
    return f"supervision closed: {p.finding}"


@summarize.register
def _(p: ReferralCopied) -> str:
    return f"copy: {p.kind.value} {p.sender} → {p.recipient} is {p.state.value} ({p.step})"


@summarize.register
def _(p: ReferralRefused) -> str:
    return f"REFUSED {p.attempted}: {p.reason}"


# -- oversight (issue 15): cases penalised but never transferred ---------------------------------


@summarize.register
def _(p: OversightFlagged) -> str:
    return f"oversight flagged ({p.threshold_rule}): {p.reason}"


@summarize.register
def _(p: OversightSuggested) -> str:
    return f"transfer suggested, reply by {p.reply_by:%Y-%m-%d %H:%M} UTC: {p.reason}"


@summarize.register
def _(p: OversightAnswered) -> str:
    return f"oversight answered: {p.explanation}"


@summarize.register
def _(p: ItemsHandedOver) -> str:
    late = " (late)" if p.handed_over_at > p.due_by else ""
    return f"seized items handed over{late}: {', '.join(p.inventory)} ({p.handover_rule})"
