"""Reconsideration and procuratorial supervision of referrals (DESIGN §5, linkage rules).

After a decline the sender may ask the recipient to reconsider; the sender or the region's
procuratorate (the *supervisor*) may open supervision, in which the police must explain a
refusal and, once notified, file. Also here: the two events that are not steps — the
coordinator's copy of a referral's state to parties that did not take part in a step, and
the refusal that reports an illegal step back to whoever sent it.

Sources: Provisions on the Transfer of Suspected Criminal Cases by Administrative Law
Enforcement Agencies (State Council Decree 310, 2001, rev. 2020), arts. 9 and 14; Opinions on
Strengthening the Linkage of Administrative Enforcement and Criminal Justice (2006).
"""

from typing import ClassVar

from contracts.identifiers import AgencyId, NonEmptyStr, Ulid
from contracts.referrals import ReferralKind, ReferralPayload, ReferralState

__all__ = [
    "FilingNotified",
    "ReconsiderationRequested",
    "ReferralCopied",
    "ReferralDeclineUpheld",
    "ReferralRefused",
    "RefusalExplained",
    "SupervisionClosed",
    "SupervisionOpened",
]


class ReconsiderationRequested(ReferralPayload):
    """The sender asks the recipient to reconsider its decline (within 3 days of it)."""

    event_type: ClassVar[str] = "referral.reconsideration_requested"

    reason: NonEmptyStr


class ReferralDeclineUpheld(ReferralPayload):
    """The recipient reconsidered and keeps its decline (a reversal is ``referral.accepted``)."""

    event_type: ClassVar[str] = "referral.decline_upheld"

    reason: NonEmptyStr


class SupervisionOpened(ReferralPayload):
    """The sender or the procuratorate opens supervision of a refusal to take a case on."""

    event_type: ClassVar[str] = "referral.supervision_opened"

    reason: NonEmptyStr


class RefusalExplained(ReferralPayload):
    """The recipient explains to the supervisor why it refused (within 7 days)."""

    event_type: ClassVar[str] = "referral.refusal_explained"

    explanation: NonEmptyStr


class FilingNotified(ReferralPayload):
    """The procuratorate finds the refusal unfounded and notifies the police to file (15 days)."""

    event_type: ClassVar[str] = "referral.filing_notified"

    reason: NonEmptyStr


class SupervisionClosed(ReferralPayload):
    """The procuratorate accepts the reasons for refusing; the refusal stands."""

    event_type: ClassVar[str] = "referral.supervision_closed"

    finding: NonEmptyStr


class ReferralCopied(ReferralPayload):
    """Coordinator → a party that neither took nor received a step: the referral's new state.

    Keeps every party's ledger (sender, recipient, supervisor) in step with the shared file;
    it is how the procuratorate is told of every transfer and every decline in its region.
    """

    event_type: ClassVar[str] = "referral.copied"

    case_id: Ulid
    kind: ReferralKind
    sender: AgencyId
    recipient: AgencyId
    state: ReferralState
    step: NonEmptyStr
    """The event type that caused the change (``referral.declined``...)."""
    note: str = ""


class ReferralRefused(ReferralPayload):
    """An illegal step, reported back to the agency that attempted it. Not a step itself."""

    event_type: ClassVar[str] = "referral.refused"

    refused_event_id: Ulid
    attempted: NonEmptyStr
    reason: NonEmptyStr
