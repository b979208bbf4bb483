"""What the coordinator measures from each event it applies, pure.

The coordinator sees every event on the bus, so it is where referral timings and warning
flows are counted. Given an event and the referral it is about, say which
readings to record; :mod:`services.coordinator.metrics.store` and the metrics do the I/O.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contracts.base import Payload
from contracts.evidence import EvidenceReceived
from contracts.referrals import (
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralIssued,
    ReferralOverdue,
)
from contracts.warnings import WarningAcknowledged, WarningDelivered, WarningIssued
from services.coordinator.cases.domain import CaseReferral

__all__ = ["Reading", "WatchChange", "readings_for", "watch_change_for"]

ReadingName = Literal[
    "referral_issued",
    "acknowledged_after",
    "decided_after",
    "overdue_declared",
    "warning_issued",
    "evidence_received",
]


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation: which metric, its labels (bounded values only), its value."""

    name: ReadingName
    labels: tuple[str, ...]
    value: float = 1.0


def readings_for(payload: Payload, time: datetime, referral: CaseReferral | None) -> list[Reading]:
    """Readings for one applied event; ``referral`` is the referral it is about, if any."""
    match payload:
        case ReferralIssued(kind=kind):
            return [Reading("referral_issued", (kind.value,))]
        case ReferralAcknowledged() if referral is not None:
            seconds = (time - referral.issued_at).total_seconds()
            return [Reading("acknowledged_after", (referral.kind,), seconds)]
        case ReferralAccepted() | ReferralDeclined() if referral is not None:
            decision = "accepted" if isinstance(payload, ReferralAccepted) else "declined"
            seconds = (time - referral.issued_at).total_seconds()
            return [Reading("decided_after", (referral.kind, decision), seconds)]
        case ReferralOverdue(stage=stage) if referral is not None:
            return [Reading("overdue_declared", (referral.kind, stage.value))]
        case WarningIssued(severity=severity):
            return [Reading("warning_issued", (severity.value,))]
        case EvidenceReceived(outcome=outcome):
            return [Reading("evidence_received", (outcome.value,))]
        case _:
            return []


@dataclass(frozen=True, slots=True)
class WatchChange:
    """A change to the coordinator's watch lists (overdue referrals, warning deliveries)."""

    action: Literal["mark_overdue", "clear_overdue", "warning_delivered", "warning_acknowledged"]
    key: str
    """referral id, or warning id."""
    party: str = ""
    """warning recipient (delivery) or acknowledger."""
    label: str = ""
    """referral kind, or warning severity."""
    stage: str = ""


def watch_change_for(
    payload: Payload, sender: str, recipient: str, referral: CaseReferral | None
) -> WatchChange | None:
    """How an event changes what is overdue or unacknowledged."""
    match payload:
        case ReferralOverdue(referral_id=referral_id, stage=stage) if referral is not None:
            return WatchChange("mark_overdue", referral_id, label=referral.kind, stage=stage.value)
        case WarningDelivered(warning_id=warning_id, warning=warning):
            return WatchChange(
                "warning_delivered", warning_id, party=recipient, label=warning.severity.value
            )
        case WarningAcknowledged(warning_id=warning_id):
            return WatchChange("warning_acknowledged", warning_id, party=sender)
        case _:
            if referral is not None:  # any other step: the referral has moved on
                return WatchChange("clear_overdue", referral.referral_id)
            return None
