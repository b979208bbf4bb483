"""Evidence rules, without a broker: the coordinator's record checks and the recipient's
digest check."""

import pytest

from contracts.evidence import (
    EvidenceAttached,
    EvidenceKind,
    EvidenceOutcome,
    EvidenceReceived,
    evidence_object_name,
)
from services.coordinator.cases.domain import NotPermitted, RefusedStep
from services.coordinator.evidence.rules import (
    AttachedEvidence,
    check_attached,
    check_received,
    check_referral,
)
from services.sdk import check_evidence

CASE = "01JABCDEFGHJKMNPQRSTVWXYZ1"
OTHER_CASE = "01JABCDEFGHJKMNPQRSTVWXYZ2"
EVIDENCE = "01JABCDEFGHJKMNPQRSTVWXYZ0"
DIGEST = "ab" * 32
CUSTOMS, AMR = "customs-shanghai", "amr-shanghai"


def attached(**changes: object) -> EvidenceAttached:
    values: dict[str, object] = {
        "evidence_id": EVIDENCE,
        "case_id": CASE,
        "kind": EvidenceKind.INSPECTION_REPORT,
        "title": "Inspection report",
        "media_type": "application/pdf",
        "size": 1000,
        "sha256": DIGEST,
        "object": evidence_object_name(CASE, EVIDENCE),
    }
    return EvidenceAttached.model_validate(values | changes)


RECORDED = AttachedEvidence(
    evidence_id=EVIDENCE,
    case_id=CASE,
    uploader=CUSTOMS,
    sha256=DIGEST,
    size=1000,
    object=evidence_object_name(CASE, EVIDENCE),
)


def test_a_first_attachment_is_new_and_its_repeat_to_another_party_is_not() -> None:
    assert check_attached(None, CUSTOMS, attached()) is True
    assert check_attached(RECORDED, CUSTOMS, attached()) is False


def test_an_evidence_id_is_the_uploaders_alone() -> None:
    with pytest.raises(NotPermitted, match="attached by customs-shanghai"):
        check_attached(RECORDED, AMR, attached())


def test_an_attachment_cannot_change_the_digest_it_was_signed_with() -> None:
    with pytest.raises(RefusedStep, match="already attached"):
        check_attached(RECORDED, CUSTOMS, attached(sha256="cd" * 32))


def receipt(**changes: object) -> EvidenceReceived:
    values: dict[str, object] = {
        "evidence_id": EVIDENCE,
        "case_id": CASE,
        "sha256": DIGEST,
        "outcome": EvidenceOutcome.VERIFIED,
    }
    return EvidenceReceived.model_validate(values | changes)


def test_a_receipt_needs_the_evidence_on_its_case_and_another_party() -> None:
    check_received(RECORDED, AMR, receipt())
    with pytest.raises(RefusedStep, match="no evidence"):
        check_received(None, AMR, receipt())
    with pytest.raises(RefusedStep, match="no evidence"):
        check_received(RECORDED, AMR, receipt(case_id=OTHER_CASE))
    with pytest.raises(NotPermitted, match="cannot receipt it itself"):
        check_received(RECORDED, CUSTOMS, receipt())


def test_a_refused_receipt_says_why() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        receipt(outcome=EvidenceOutcome.REFUSED)


@pytest.mark.parametrize(
    ("sha256", "size", "outcome", "reason"),
    [
        (DIGEST, 1000, EvidenceOutcome.VERIFIED, ""),
        ("cd" * 32, 1000, EvidenceOutcome.REFUSED, f"sha256 mismatch: expected {DIGEST}, got "),
        (DIGEST, 999, EvidenceOutcome.REFUSED, "size mismatch: expected 1000 bytes, got 999"),
    ],
)
def test_the_recipient_checks_digest_and_size(
    sha256: str, size: int, outcome: EvidenceOutcome, reason: str
) -> None:
    check = check_evidence(attached(), sha256, size)
    assert check.outcome is outcome
    assert check.reason.startswith(reason)
    assert (check.sha256, check.size) == (sha256, size)


def test_evidence_with_a_referral_names_one_on_the_case() -> None:
    check_referral(attached(), frozenset())
    check_referral(attached(referral_id=OTHER_CASE), frozenset({OTHER_CASE}))
    with pytest.raises(RefusedStep, match="not on case"):
        check_referral(attached(referral_id=OTHER_CASE), frozenset({EVIDENCE}))
