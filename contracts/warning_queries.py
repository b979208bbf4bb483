"""The ``warnings`` query (``ipbus.query.<requester>.warnings``), answered by the coordinator.

Need-to-know: an issuer sees every recipient of its own warnings; a recipient sees only its
own delivery; the coordinator sees everything.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.agencies import WarningCategory
from contracts.identifiers import AgencyId, Ulid
from contracts.warnings import Severity

__all__ = ["WARNINGS_QUERY", "DeliveryView", "WarningView", "WarningsQuery", "WarningsReply"]

WARNINGS_QUERY = "warnings"


class WarningsQuery(BaseModel):
    """Ask for warnings; by default only active ones (not expired, not retracted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    include_inactive: bool = False


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DeliveryView(_Reply):
    """One recipient of a warning: why it was chosen and how far it got."""

    agency_id: AgencyId
    reasons: list[str]
    deliveries: int
    first_delivered_at: datetime
    acknowledged_at: datetime | None = None
    escalated_at: datetime | None = None
    retraction_sent_at: datetime | None = None


class WarningView(_Reply):
    warning_id: Ulid
    issuer: AgencyId
    category: WarningCategory
    severity: Severity
    title: str
    issued_at: datetime
    expires_at: datetime
    state: str
    """``active``, ``expired`` (never delivered, or past its expiry) or ``retracted``."""
    deliveries: list[DeliveryView]


class WarningsReply(_Reply):
    warnings: list[WarningView] = []
    error: str | None = None
