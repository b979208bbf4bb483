"""What the coordinator measures from each event: readings and watch-list changes."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.agencies import WarningCategory
from contracts.base import Payload
from contracts.evidence import EvidenceOutcome, EvidenceReceived
from contracts.identifiers import new_ulid
from contracts.referrals import (
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralOverdue,
    ReferralStage,
    ReferralState,
)
from contracts.warnings import (
    Severity,
    WarningAcknowledged,
    WarningDelivered,
    WarningIssued,
    WarningTargets,
)
from services.coordinator.cases.domain import CaseReferral
from services.coordinator.metrics.readings import (
    Reading,
    WatchChange,
    readings_for,
    watch_change_for,
)
from tests.unit.builders import referral_issued

ISSUED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE = new_ulid()
REFERRAL_ID = new_ulid()
WARNING_ID = new_ulid()
REFERRAL = CaseReferral(
    REFERRAL_ID,
    "customs_to_enforcement",
    "customs-shanghai",
    "amr-shanghai",
    ReferralState.ACKNOWLEDGED,
    ISSUED,
    ISSUED,
)
WARNING = WarningIssued(
    warning_id=WARNING_ID,
    category=WarningCategory.COUNTERFEIT_ROUTE,
    severity=Severity.CRITICAL,
    title="route",
    body="body",
    targets=WarningTargets(),
    expires_at=ISSUED + timedelta(days=30),
)
OVERDUE = ReferralOverdue(
    referral_id=REFERRAL_ID, case_id=CASE, stage=ReferralStage.DECIDE, due_at=ISSUED
)
LATER = ISSUED + timedelta(hours=3)


@pytest.mark.parametrize(
    ("payload", "referral", "expected"),
    [
        (
            referral_issued(CASE, REFERRAL_ID),
            None,
            [Reading("referral_issued", ("customs_to_enforcement",))],
        ),
        (
            ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="R-1"),
            REFERRAL,
            [Reading("acknowledged_after", ("customs_to_enforcement",), 3 * 3600)],
        ),
        (
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="AMR-1"),
            REFERRAL,
            [Reading("decided_after", ("customs_to_enforcement", "accepted"), 3 * 3600)],
        ),
        (
            ReferralDeclined(referral_id=REFERRAL_ID, reason="not ours"),
            REFERRAL,
            [Reading("decided_after", ("customs_to_enforcement", "declined"), 3 * 3600)],
        ),
        (OVERDUE, REFERRAL, [Reading("overdue_declared", ("customs_to_enforcement", "decide"))]),
        (OVERDUE, None, []),  # a referral the coordinator never saw: nothing to label it by
        (ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="R-1"), None, []),
        (ReferralConcluded(referral_id=REFERRAL_ID, outcome="fined"), REFERRAL, []),
        (WARNING, None, [Reading("warning_issued", ("critical",))]),
        (WarningAcknowledged(warning_id=WARNING_ID), None, []),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Payload) else None,
)
def test_readings(payload: Payload, referral: CaseReferral | None, expected: list[Reading]) -> None:
    assert readings_for(payload, LATER, referral) == expected


@pytest.mark.parametrize(
    ("payload", "referral", "expected"),
    [
        (
            OVERDUE,
            REFERRAL,
            WatchChange(
                "mark_overdue", REFERRAL_ID, label="customs_to_enforcement", stage="decide"
            ),
        ),
        (OVERDUE, None, None),
        (
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="AMR-1"),
            REFERRAL,
            WatchChange("clear_overdue", REFERRAL_ID),
        ),
        (
            WarningDelivered(warning_id=WARNING_ID, warning=WARNING),
            None,
            WatchChange("warning_delivered", WARNING_ID, party="amr-shanghai", label="critical"),
        ),
        (
            WarningAcknowledged(warning_id=WARNING_ID),
            None,
            WatchChange("warning_acknowledged", WARNING_ID, party="customs-shanghai"),
        ),
        (WARNING, None, None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Payload) else None,
)
def test_watch_changes(
    payload: Payload, referral: CaseReferral | None, expected: WatchChange | None
) -> None:
    # sender customs-shanghai, recipient amr-shanghai
    assert watch_change_for(payload, "customs-shanghai", "amr-shanghai", referral) == expected


@pytest.mark.parametrize("outcome", ["verified", "refused"])
def test_an_evidence_receipt_is_counted_by_outcome(outcome: str) -> None:
    receipt = EvidenceReceived(
        evidence_id=new_ulid(),
        case_id=new_ulid(),
        sha256="ab" * 32,
        outcome=EvidenceOutcome(outcome),
        reason="sha256 mismatch" if outcome == "refused" else "",
    )
    assert readings_for(receipt, LATER, None) == [Reading("evidence_received", (outcome,))]
