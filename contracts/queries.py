"""Request/reply queries answered by the coordinator (DESIGN §3).

An agency asks on ``ipbus.query.<requester>.<query>``; the requester is the subject token
the server lets it publish, so the coordinator can answer need-to-know: a case an agency
is not party to is "not found", exactly like a case that does not exist.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.cases import CaseStatus
from contracts.credit import CreditListingView
from contracts.identifiers import AgencyId, Ulid
from contracts.referrals import ReferralKind, ReferralState

__all__ = [
    "CASE_QUERY",
    "CaseParty",
    "CaseQuery",
    "CaseReply",
    "CaseView",
    "EvidenceReceiptView",
    "EvidenceView",
    "ReferralView",
    "TimelineEntry",
]

CASE_QUERY = "case"


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CaseQuery(BaseModel):
    """Ask for one case's shared status and timeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: Ulid


class TimelineEntry(_Reply):
    """One event on a case, as every party sees it."""

    seq: int
    event_id: Ulid
    event_type: str
    sender: AgencyId
    recipient: AgencyId
    time: datetime
    summary: str
    status_after: CaseStatus


class CaseParty(_Reply):
    agency_id: AgencyId
    local_ref: str | None = None


class ReferralView(_Reply):
    referral_id: Ulid
    kind: ReferralKind
    sender: AgencyId
    recipient: AgencyId
    state: ReferralState
    issued_at: datetime
    updated_at: datetime


class EvidenceReceiptView(_Reply):
    """A recipient's check of a piece of evidence (its signed ``evidence.received``)."""

    agency_id: AgencyId
    outcome: str
    """``verified`` or ``refused``."""
    sha256: str
    reason: str = ""
    received_at: datetime


class EvidenceView(_Reply):
    """A piece of evidence on the case (``evidence.attached``) and its receipts."""

    evidence_id: Ulid
    referral_id: Ulid | None = None
    kind: str
    title: str
    media_type: str
    size: int
    sha256: str
    object: str
    uploader: AgencyId
    attached_at: datetime
    receipts: list[EvidenceReceiptView] = []


class CaseView(_Reply):
    """One case across agencies: shared status, parties, referrals and timeline."""

    case_id: Ulid
    title: str
    status: CaseStatus
    parties: list[CaseParty]
    referrals: list[ReferralView]
    timeline: list[TimelineEntry]
    linked_case_ids: list[Ulid] = []
    """Other cases sharing a party (credit code) with this one, that the requester may see."""
    credit_listings: list[CreditListingView] = []
    """The companies this case names that are, or were, on a credit list (SAMR Order 44)."""
    evidence: list[EvidenceView] = []
    """Evidence attached to the case (``evidence.attached``), with who checked it."""


class CaseReply(_Reply):
    """The answer: the case, or an error that says nothing about other agencies' cases."""

    case: CaseView | None = None
    error: str | None = None
