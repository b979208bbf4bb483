"""The referrals query (DESIGN §3): deadlines an agency is party to, and who is late.

``ipbus.query.<requester>.referrals``, answered by the coordinator need-to-know: an agency
sees the deadlines of referrals it sent, received or supervises — nothing else.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.identifiers import AgencyId, Ulid
from contracts.referrals import ReferralKind, ReferralStage

__all__ = ["REFERRALS_QUERY", "DeadlineView", "ReferralsQuery", "ReferralsReply"]

REFERRALS_QUERY = "referrals"


class ReferralsQuery(BaseModel):
    """Ask for referral deadlines; ``overdue_only``: just the ones that were missed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overdue_only: bool = False


class DeadlineView(BaseModel):
    """One stage of one referral: due when, owed by whom, and how late."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    referral_id: Ulid
    case_id: Ulid
    kind: ReferralKind
    stage: ReferralStage
    sender: AgencyId
    recipient: AgencyId
    supervisor: AgencyId | None = None
    late_party: AgencyId
    period: str
    started_at: datetime
    due_at: datetime | None = None
    """``None`` while the clock is stopped or the deadline is not computable."""
    status: str
    """``pending``, ``met``, ``overdue``, ``stopped``, ``not_computable`` or ``ended`` (the
    case ended, by a final judgment or a cancellation, while the stage was owed)."""
    rule_version: str | None = None
    """The rule version(s) that set it: ``name@effective_from`` (`` + `` an extension's)."""
    problem: str | None = None
    """Why it is not computable (e.g. the calendar does not cover the year)."""
    met_late_at: datetime | None = None
    late_by_seconds: float | None = None
    """Overdue only: until it was met, or until now if it still is not."""


class ReferralsReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    deadlines: list[DeadlineView] = []
    error: str | None = None
