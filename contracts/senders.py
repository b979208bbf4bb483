"""Who may say what (DESIGN §4a): event type → the agencies allowed to send it.

A valid signature proves who spoke, not that they may say it. This table is the static half
of the rule, decided by the sender's registry entry alone; the dynamic half (is the sender a
party to the case, is it the end of the referral that owes this step) needs the case's
history and lives with the coordinator, which reads :data:`REFERRAL_STEPS` for it.

Pure, like the referral state machine next to it, so that the coordinator, agency adapters
and tests share one rule set.
"""

from enum import StrEnum
from types import MappingProxyType

from contracts.agencies import Agency, AgencyKind, JudicialRole
from contracts.base import Payload
from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.holders import HolderApplied, HolderDeclined
from contracts.judicial import AppealedBy, JudgmentAppealed
from contracts.referrals import ReferralIssued, ReferralKind

__all__ = [
    "JUDICIAL_STATUSES",
    "SENDER_RULES",
    "Speaker",
    "in_whose_name",
    "may_send",
    "referral_route_problem",
    "speakers_of",
]


class Speaker(StrEnum):
    """A class of sender an event type may come from."""

    COORDINATOR = "coordinator"
    """The hub itself: reports and fan-out no agency may forge."""
    AGENCY = "agency"
    """Any registered agency other than the coordinator and the rights-holder desks."""
    CUSTOMS = "customs"
    ENFORCEMENT = "enforcement"
    """An administrative enforcement agency (market regulation / IP office)."""
    COURT = "court"
    """A judicial agency whose role is ``court``."""
    PROCURATORATE = "procuratorate"
    """A judicial agency whose role is ``procuratorate`` (the supervisor of referrals)."""
    RIGHTS_HOLDERS_DESK = "rightsholders"
    """A rights-holder desk, speaking for the holders it represents (``represents``)."""


_C = frozenset({Speaker.COORDINATOR})
_A = frozenset({Speaker.AGENCY})
_A_OR_C = frozenset({Speaker.AGENCY, Speaker.COORDINATOR})
_CUSTOMS = frozenset({Speaker.CUSTOMS})
_ENFORCEMENT = frozenset({Speaker.ENFORCEMENT})
_COURT = frozenset({Speaker.COURT})
_PROCURATORATE = frozenset({Speaker.PROCURATORATE})
_COURT_OR_PROCURATORATE = frozenset({Speaker.COURT, Speaker.PROCURATORATE})
_CUSTOMS_OR_C = frozenset({Speaker.CUSTOMS, Speaker.COORDINATOR})
_DESK_OR_C = frozenset({Speaker.RIGHTS_HOLDERS_DESK, Speaker.COORDINATOR})

SENDER_RULES: MappingProxyType[str, frozenset[Speaker]] = MappingProxyType(
    {
        # a case: opened, restated and closed by the agencies working it (parties: coordinator)
        "case.opened": _A,
        "case.status_changed": _A,
        "case.closed": _A,
        # withdrawn by the agency that opened it: which one is the coordinator's (case history)
        "case.cancelled": _A,
        # referral steps: by an agency; *which* end of the referral is REFERRAL_STEPS' `by`
        "referral.issued": _A,
        "referral.acknowledged": _A,
        "referral.accepted": _A,
        "referral.declined": _A,
        "referral.concluded": _A,
        "referral.withdrawn": _A,
        "referral.reconsideration_requested": _A,
        "referral.decline_upheld": _A,
        "referral.supervision_opened": _A,
        "referral.refusal_explained": _A,
        # steps on a deadline (extension, clock stop): by the end that owes it (CLOCK_STEPS)
        "referral.extended": _A,
        "referral.clock_stopped": _A,
        "referral.clock_resumed": _A,
        # the regulator's note that it handed over seized items (Decree 310 art. 12)
        "referral.items_handed_over": _A,
        # the supervisor is the procuratorate of the recipient's region, and nobody else
        "referral.filing_notified": _PROCURATORATE,
        "referral.supervision_closed": _PROCURATORATE,
        # reports of the hub
        "referral.overdue": _C,
        "referral.copied": _C,
        # the desk that refused an illegal step reports it back, as may the coordinator
        "referral.refused": _A_OR_C,
        # warnings: any agency (and the coordinator's own linkage signals) issues; the hub
        # delivers and escalates; recipients acknowledge; the issuer retracts and the hub
        # forwards the retraction to each recipient
        "warning.issued": _A_OR_C,
        "warning.delivered": _C,
        "warning.acknowledged": _A,
        "warning.retracted": _A_OR_C,
        "warning.escalated": _C,
        # customs alone detains, releases and confiscates at the border
        "goods.detained": _CUSTOMS,
        "goods.released": _CUSTOMS,
        "goods.confiscated": _CUSTOMS,
        # oversight of cases penalised but never transferred: the hub flags, the procuratorate
        # suggests, the flagged case's regulator answers (services/coordinator/oversight/rules.py)
        "oversight.flagged": _C,
        "oversight.suggested": _PROCURATORATE,
        "oversight.answered": _A,
        # evidence: a party of the case attaches it, a party other than the uploader
        # receipts it; which parties is the coordinator's (case history)
        "evidence.attached": _A,
        "evidence.received": _A,
        # courts alone rule
        "judgment.rendered": _COURT,
        "confirmation.issued": _COURT,
        "judgment.final": _COURT,
        # an appeal is recorded by the court that received it; a protest by the procuratorate
        "judgment.appealed": _COURT_OR_PROCURATORATE,
        # the procuratorate alone decides not to prosecute (CPL arts. 175-177)
        "prosecution.declined": _PROCURATORATE,
        # customs notifies a holder (Decree 395 art. 16), the hub forwards it to the desk
        # that represents the holder; the desk answers in a represented holder's name
        # (in_whose_name), the hub forwards the answer to customs and reports a lapse
        "holder.notified": _CUSTOMS_OR_C,
        "holder.applied": _DESK_OR_C,
        "holder.declined": _DESK_OR_C,
        "holder.lapsed": _C,
        # a regulator alone lists a party as seriously dishonest, and lifts it (SAMR Order 44)
        "credit.listed": _ENFORCEMENT,
        "credit.delisted": _ENFORCEMENT,
    }
)
"""Event type → who may send it. A type missing from the table may be sent by nobody."""


def speakers_of(agency: Agency) -> frozenset[Speaker]:
    """Every :class:`Speaker` class ``agency`` belongs to, from its registry kind and role."""
    if agency.kind is AgencyKind.COORDINATOR:
        return frozenset({Speaker.COORDINATOR})
    if agency.kind is AgencyKind.RIGHTS_HOLDERS:  # a private holders' desk, not an authority
        return frozenset({Speaker.RIGHTS_HOLDERS_DESK})
    found = {Speaker.AGENCY}
    if agency.kind is AgencyKind.CUSTOMS:
        found.add(Speaker.CUSTOMS)
    if agency.kind is AgencyKind.ENFORCEMENT:
        found.add(Speaker.ENFORCEMENT)
    if agency.kind is AgencyKind.JUDICIAL and agency.role is JudicialRole.COURT:
        found.add(Speaker.COURT)
    if agency.kind is AgencyKind.JUDICIAL and agency.role is JudicialRole.PROCURATORATE:
        found.add(Speaker.PROCURATORATE)
    return frozenset(found)


def may_send(event_type: str, agency: Agency) -> bool:
    """Whether ``agency`` may send events of ``event_type`` at all (the static rule)."""
    return bool(SENDER_RULES.get(event_type, frozenset()) & speakers_of(agency))


JUDICIAL_STATUSES: MappingProxyType[CaseStatus, Speaker] = MappingProxyType(
    {
        CaseStatus.PROSECUTING: Speaker.PROCURATORATE,
        CaseStatus.IN_TRIAL: Speaker.COURT,
        CaseStatus.JUDGED: Speaker.COURT,
    }
)
"""Shared statuses that record a judicial act, and who performs it: only that body may say
so with ``case.status_changed`` (a regulator's system cannot put a case "in trial" or
"judged"; a judgment is ``judgment.rendered``, from a court, and the status follows it)."""


def in_whose_name(payload: Payload, agency: Agency) -> str | None:
    """Why ``agency`` may not say ``payload`` in the name it gives, or None.

    Still the static half of the rule (the registry and the signed body alone): a
    procuratorate's ``judgment.appealed`` is its own protest (抗诉), never a defendant's or
    a party's appeal (上诉), which the court that received it records. A court may record a
    protest too: it is lodged through the court of first instance.

    A rights-holder desk answers customs only for a holder it represents (``represents``).
    A status that records a judicial act (:data:`JUDICIAL_STATUSES`) is said only by the
    body that performs it.
    """
    if (
        isinstance(payload, CaseStatusChanged)
        and (body := JUDICIAL_STATUSES.get(payload.status)) is not None
        and body not in speakers_of(agency)
    ):
        return f"only a {body.value} says a case is {payload.status.value}, not {agency.id}"
    if isinstance(payload, HolderApplied | HolderDeclined) and (
        Speaker.RIGHTS_HOLDERS_DESK in speakers_of(agency)
        and payload.holder not in agency.represents
    ):
        return f"{agency.id} does not represent holder {payload.holder!r}"
    if (
        isinstance(payload, JudgmentAppealed)
        and Speaker.PROCURATORATE in speakers_of(agency)
        and payload.appealed_by is not AppealedBy.PROCURATORATE
    ):
        return f"{agency.id} protests a judgment in its own name, not the {payload.appealed_by}'s"
    return None


def _province(region: str) -> str:
    return region[:2]


def referral_route_problem(payload: Payload, sender: Agency, recipient: Agency) -> str | None:
    """Why a referral may not go from ``sender`` to ``recipient``, or None.

    Static, from the registry alone: assistance between regulators (``regulator_assistance``)
    is asked by a regulator of a regulator in *another* province (a regulator's own region is
    its own to investigate; inside one province the hierarchy assigns the work).
    """
    if not isinstance(payload, ReferralIssued):
        return None
    if payload.kind is not ReferralKind.REGULATOR_ASSISTANCE:
        return None
    if sender.kind is not AgencyKind.ENFORCEMENT or recipient.kind is not AgencyKind.ENFORCEMENT:
        return (
            f"regulator_assistance goes from a regulator to a regulator, not from "
            f"{sender.id} ({sender.kind.value}) to {recipient.id} ({recipient.kind.value})"
        )
    if _province(sender.region) == _province(recipient.region):
        return (
            f"regulator_assistance crosses provinces: {sender.id} ({sender.region}) and "
            f"{recipient.id} ({recipient.region}) are in the same province"
        )
    return None
