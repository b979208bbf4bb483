"""The coordinator's rules, pure: how events make one shared case file.

No I/O, no clock, no broker. The app loads a :class:`CaseFile`, calls :func:`apply_event`
and stores what comes back.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import singledispatch
from types import MappingProxyType

from contracts.base import Payload
from contracts.cases import CaseCancelled, CaseClosed, CaseOpened, CaseStatus, CaseStatusChanged
from contracts.credit import CreditDelisted, CreditListed
from contracts.customs import GoodsConfiscated, GoodsDetained, GoodsReleased
from contracts.handover import ItemsHandedOver
from contracts.judicial import (
    ConfirmationIssued,
    JudgmentAppealed,
    JudgmentFinal,
    JudgmentRendered,
    ProsecutionDeclined,
)
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
from contracts.referral_clocks import ReferralClockResumed, ReferralClockStopped, ReferralExtended
from contracts.referrals import (
    CLOCK_STEPS,
    REFERRAL_STEPS,
    IllegalReferralStep,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralIssued,
    ReferralKind,
    ReferralOverdue,
    ReferralParty,
    ReferralPayload,
    ReferralState,
    ReferralWithdrawn,
    step_referral,
)
from contracts.subjects import COORDINATOR

__all__ = [
    "COORDINATOR",
    "CRIMINAL_KINDS",
    "JUDGMENT_TYPES",
    "CaseFile",
    "CaseReferral",
    "EventFacts",
    "JudgmentStage",
    "NotAParty",
    "NotPermitted",
    "RefusedStep",
    "TimelineLine",
    "apply_event",
    "case_id_of",
    "check_party",
    "may_see",
    "needs_case",
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


class JudgmentStage(StrEnum):
    """Where the case's judgment stands, after the last judgment event on it."""

    RENDERED = "rendered"
    APPEALED = "appealed"
    FINAL = "final"


JUDGMENT_TYPES: MappingProxyType[str, JudgmentStage] = MappingProxyType(
    {
        "judgment.rendered": JudgmentStage.RENDERED,
        "judgment.appealed": JudgmentStage.APPEALED,
        "judgment.final": JudgmentStage.FINAL,
    }
)
"""Event type → the judgment stage it leaves the case in (read back from the timeline)."""


class RefusedStep(ValueError):
    """An event the shared case file cannot take (e.g. a referral step out of order)."""


class NotAParty(RefusedStep):
    """The sender writes about a case it is not party to (DESIGN §4a: ``not_a_party``)."""


class NotPermitted(RefusedStep):
    """A party takes a step that is not its to take (DESIGN §4a: ``not_permitted``)."""


_CASELESS_TYPES = frozenset({"referral.refused"})
"""Types that may travel without a case besides warnings: a desk's report of a refused step."""


def needs_case(event_type: str) -> bool:
    """Whether an event of this type must name its case (warnings, and refusal reports, need not).

    Without a case there is no history to check the sender against, so a case event that names
    none cannot be taken (``not_a_party``).
    """
    return not event_type.startswith("warning.") and event_type not in _CASELESS_TYPES


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
    judgment: JudgmentStage | None = None
    """The last judgment event's stage (None: no judgment yet); the store reads it back from
    the timeline, so it needs no column of its own."""


def case_id_of(subject: str | None, payload: Payload) -> str | None:
    """The case an event is about: the envelope subject, else the payload's ``case_id``."""
    return subject or getattr(payload, "case_id", None)


def may_see(case: CaseFile, requester: str) -> bool:
    """Need-to-know: only agencies party to the case (and the coordinator itself)."""
    return requester == COORDINATOR or requester in case.parties


def check_party(case: CaseFile, facts: EventFacts) -> None:
    """Refuse (:class:`NotAParty`) a sender the case's own history does not make a party.

    The coordinator always may (its types are pinned by the sender table). A case nobody is
    party to has not been opened: only ``case.opened`` starts it, and its sender is the first
    party. Writing about a case never makes the writer a party.
    """
    if facts.sender == COORDINATOR or facts.sender in case.parties:
        return
    if not case.parties and isinstance(facts.payload, CaseOpened):
        return
    if not case.parties:
        raise NotAParty(
            f"case {case.case_id} is not open, and only case.opened starts a case: "
            f"{facts.sender} is not party to it"
        )
    raise NotAParty(f"{facts.sender} is not party to case {case.case_id}")


def _enrolled(case: CaseFile, facts: EventFacts) -> dict[str, str | None]:
    """Parties after ``facts`` (DESIGN §4a): the opener, whom a party addresses, the supervisor.

    A refusal report does not enrol its addressee: it goes to whoever attempted a step, who
    may be a stranger that learnt the case id.
    """
    parties = dict(case.parties)
    if isinstance(facts.payload, CaseOpened):
        parties.setdefault(facts.sender, None)
    enrolled = [] if isinstance(facts.payload, ReferralRefused) else [facts.recipient]
    if isinstance(facts.payload, ReferralIssued) and facts.supervisor is not None:
        enrolled.append(facts.supervisor)
    for agency in enrolled:
        if agency != COORDINATOR:
            parties.setdefault(agency, None)
    return parties


def apply_event(case: CaseFile, facts: EventFacts) -> tuple[CaseFile, TimelineLine]:
    """The case file after ``facts``, and the timeline line that records it.

    Refuses (:class:`RefusedStep` or a subclass) what the case's history does not allow:
    a sender not party to the case, a referral step not the sender's to take, a step out of
    order.
    """
    check_party(case, facts)
    named = getattr(facts.payload, "case_id", None)
    if named is not None and named != case.case_id:
        raise RefusedStep(
            f"{facts.event_type} names case {named} but is filed under case {case.case_id}"
        )
    _check_refusal_report(case.referrals, facts)
    _check_outcome(case, facts)
    referrals = _step_referrals(case.referrals, facts)
    parties = _enrolled(case, facts)
    local_ref = getattr(facts.payload, "local_ref", None)
    if isinstance(facts.payload, CaseOpened | ReferralAccepted) and local_ref:
        parties[facts.sender] = local_ref  # the opener, or the referral's new owner
    title = case.title
    if isinstance(facts.payload, CaseOpened) and not title:
        title = facts.payload.title
    referral = (
        referrals.get(facts.payload.referral_id)
        if isinstance(facts.payload, ReferralPayload)
        else None
    )
    kind = ReferralKind(referral.kind) if referral is not None else None
    opened, closed = case.opened, case.closed
    if isinstance(facts.payload, CaseOpened):
        opened = opened | {facts.sender}
    status = _status_after(case.status, facts.payload, kind)
    judgment = JUDGMENT_TYPES.get(facts.event_type, case.judgment)
    if isinstance(facts.payload, CaseClosed | CaseCancelled):
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
        judgment=judgment,
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
    if not isinstance(payload, ReferralPayload) or isinstance(payload, _NOT_STEPS):
        return referrals
    referral_id = payload.referral_id
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
        raise NotPermitted(f"{facts.sender} is not party to referral {referral_id}")
    step = REFERRAL_STEPS.get(facts.event_type)
    owed_by = step.by if step is not None else CLOCK_STEPS.get(facts.event_type)
    if owed_by is not None and by not in owed_by:
        parties = " or ".join(p.value for p in ReferralParty if p in owed_by)
        raise NotPermitted(
            f"referral {referral_id}: {facts.event_type} must come from the {parties}, "
            f"and {facts.sender} is its {by.value}"
        )
    try:
        state = step_referral(current.state, facts.event_type, by)
    except IllegalReferralStep as exc:
        raise RefusedStep(f"referral {referral_id}: {exc}") from exc
    return {**referrals, referral_id: replace(current, state=state, updated_at=facts.time)}


def _check_refusal_report(referrals: dict[str, CaseReferral], facts: EventFacts) -> None:
    """An agency reports a refused step only of a referral it is party to (else: any)."""
    if not isinstance(facts.payload, ReferralRefused) or facts.sender == COORDINATOR:
        return
    referral = referrals.get(facts.payload.referral_id)
    if referral is not None and party_to_referral(referral, facts.sender) is None:
        raise NotPermitted(
            f"{facts.sender} reports a refusal on referral {referral.referral_id}, "
            "to which it is not party"
        )


_JUDGMENT_BEFORE: MappingProxyType[str, frozenset[JudgmentStage]] = MappingProxyType(
    {
        "judgment.appealed": frozenset({JudgmentStage.RENDERED}),
        "judgment.final": frozenset({JudgmentStage.RENDERED, JudgmentStage.APPEALED}),
    }
)
"""What must stand for an appeal (a rendered judgment not yet challenged or final) and for a
judgment to take effect (one rendered; or appealed, the second instance being final as it is
given)."""


def _check_outcome(case: CaseFile, facts: EventFacts) -> None:
    """Refuse an outcome the case's history does not allow.

    Only an agency that opened (its part of) the case cancels it (``not_permitted``); an
    appeal or a judgment's taking effect out of order is a refused step.
    """
    payload = facts.payload
    if isinstance(payload, CaseCancelled) and facts.sender not in case.opened:
        raise NotPermitted(
            f"only an agency that opened case {case.case_id} may cancel it, "
            f"and {facts.sender} did not open it"
        )
    allowed = _JUDGMENT_BEFORE.get(facts.event_type)
    if allowed is not None and case.judgment not in allowed:
        stands = (
            f"its judgment is {case.judgment.value}"
            if case.judgment is not None
            else "no judgment has been rendered on it"
        )
        raise RefusedStep(f"{facts.event_type} on case {case.case_id}: {stands}")


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
        case CaseClosed() | CaseCancelled():
            return CaseStatus.CLOSED
        case JudgmentAppealed():
            return CaseStatus.IN_TRIAL
        case JudgmentFinal():
            return CaseStatus.JUDGED
        case ProsecutionDeclined():
            return CaseStatus.DECLINED
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
def _(p: JudgmentAppealed) -> str:
    challenge = "protested" if p.appealed_by == "procuratorate" else "appealed"
    return f"judgment {p.court_ref} {challenge} by the {p.appealed_by.value}" + (
        f" — {p.note}" if p.note else ""
    )


@summarize.register
def _(p: JudgmentFinal) -> str:
    return f"judgment {p.court_ref} is final" + (f": {p.verdict}" if p.verdict else "")


@summarize.register
def _(p: ProsecutionDeclined) -> str:
    return f"prosecution declined ({p.decision_ref}): {p.grounds}"


@summarize.register
def _(p: CaseCancelled) -> str:
    return f"cancelled {p.local_ref}: {p.reason}"


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


@summarize.register
def _(p: ReferralExtended) -> str:
    approved = f" (approved by {p.approved_by})" if p.approved_by else ""
    return f"{p.stage.value} deadline extended{approved}: {p.reason}"


@summarize.register
def _(p: ReferralClockStopped) -> str:
    return f"{p.stage.value} clock stopped ({p.ground.value}): {p.reason}"


@summarize.register
def _(p: ReferralClockResumed) -> str:
    return f"{p.stage.value} clock resumed" + (f": {p.note}" if p.note else "")


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


# -- credit supervision (issue 19 part 3) ---------------------------------------------------


@summarize.register
def _(p: CreditListed) -> str:
    return (
        f"{p.party_name} ({p.credit_code}) listed on the {p.credit_list.value} list "
        f"({p.decision_ref}): {p.grounds}; early removal from {p.removal_from:%Y-%m-%d}, "
        f"ends {p.expires_on:%Y-%m-%d}"
    )


@summarize.register
def _(p: CreditDelisted) -> str:
    return (
        f"{p.credit_code} removed from the {p.credit_list.value} list ({p.reason.value}, "
        f"{p.decision_ref}): {p.grounds}"
    )
