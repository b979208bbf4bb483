"""Early-warning events (DESIGN §5): issued once, routed by the coordinator to matched agencies.

Targets are filters; an empty list means "any" on that axis, so a warning with no targets goes
to every agency (the coordinator decides the match, agencies only read).
"""

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.agencies import AgencyKind, IpType, WarningCategory
from contracts.base import Payload
from contracts.identifiers import (
    AgencyId,
    HsPrefix,
    NonEmptyStr,
    RegionCode,
    Ulid,
    UtcDatetime,
)

__all__ = [
    "Severity",
    "WarningAcknowledged",
    "WarningCategory",
    "WarningDelivered",
    "WarningEscalated",
    "WarningIssued",
    "WarningRetracted",
    "WarningTargets",
]


class Severity(StrEnum):
    """How urgently recipients should act."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class WarningTargets(BaseModel):
    """Who a warning is for; each empty list means "any"."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kinds: list[AgencyKind] = Field(default_factory=list)
    regions: list[RegionCode] = Field(default_factory=list)
    ip_types: list[IpType] = Field(default_factory=list)
    hs_prefixes: list[HsPrefix] = Field(default_factory=list)


class WarningIssued(Payload):
    """An agency raises a warning, addressed to the coordinator for routing."""

    event_type: ClassVar[str] = "warning.issued"

    warning_id: Ulid
    category: WarningCategory
    severity: Severity
    title: NonEmptyStr
    body: NonEmptyStr
    targets: WarningTargets
    expires_at: UtcDatetime


class WarningDelivered(Payload):
    """The coordinator hands a warning to one matched agency, carrying it whole."""

    event_type: ClassVar[str] = "warning.delivered"

    warning_id: Ulid
    warning: WarningIssued

    @model_validator(mode="after")
    def _same_warning(self) -> Self:
        if self.warning.warning_id != self.warning_id:
            raise ValueError("warning_id differs from the carried warning's warning_id")
        return self


class WarningAcknowledged(Payload):
    """A recipient confirms it has read (and will act on) a warning."""

    event_type: ClassVar[str] = "warning.acknowledged"

    warning_id: Ulid
    note: str = ""


class WarningRetracted(Payload):
    """The issuer withdraws a warning, saying why."""

    event_type: ClassVar[str] = "warning.retracted"

    warning_id: Ulid
    reason: NonEmptyStr


class WarningEscalated(Payload):
    """The coordinator reports a critical warning an agency left unacknowledged.

    Sent to the warning's issuer and to the procuratorate supervising the laggard's region,
    after the warning was re-delivered and still not acknowledged (policy window).
    """

    event_type: ClassVar[str] = "warning.escalated"

    warning_id: Ulid
    agency_id: AgencyId
    """The recipient that did not acknowledge."""
    deliveries: int = Field(ge=1)
    first_delivered_at: UtcDatetime
