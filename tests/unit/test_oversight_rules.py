"""Oversight of cases penalised but never transferred: the coordinator's pure rules."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.identifiers import Money, new_ulid
from contracts.oversight import (
    CaseFindings,
    Offence,
    Offender,
    OversightAnswered,
    OversightSuggested,
)
from contracts.referrals import ReferralKind, ReferralState
from services.coordinator.cases.domain import CaseFile, CaseReferral, RefusedStep
from services.coordinator.oversight.rules import (
    OversightStatus,
    OversightView,
    flag_needed,
    penalty_findings,
    step_oversight,
)
from services.runtime.law import RuleBook, load_policy

BOOK = RuleBook.from_policy(load_policy(Path(__file__).parents[2] / "deploy" / "policy.toml"))
T = datetime(2026, 3, 2, tzinfo=UTC)
REG, PROC = "amr-shanghai", "procuratorate-shanghai"
CASE = new_ulid()
OVERSIGHT = new_ulid()


def _findings(volume: str, *, currency: str = "CNY") -> CaseFindings:
    return CaseFindings(
        offence=Offence.COUNTERFEIT_REGISTERED_TRADEMARK,
        offender=Offender.INDIVIDUAL,
        committed_on=date(2026, 1, 12),
        illegal_business_volume=Money(value=Decimal(volume), currency=currency),
    )


def _case(*kinds: ReferralKind) -> CaseFile:
    referrals = {
        f"r{i}": CaseReferral(f"r{i}", kind.value, REG, "x", ReferralState.ISSUED, T, T)
        for i, kind in enumerate(kinds)
    }
    return CaseFile(case_id=CASE, referrals=referrals)


def test_a_penalised_case_over_a_threshold_without_a_transfer_is_flagged_by_the_rule() -> None:
    crossed = flag_needed(_case(), _findings("50000"), BOOK, open_oversight=False)
    assert crossed is not None
    assert crossed.version == "criminal_threshold.counterfeit_registered_trademark.goods@2025-04-26"


@pytest.mark.parametrize(
    ("case", "volume", "open_oversight"),
    [
        pytest.param(_case(), "49999.99", False, id="below-every-threshold"),
        pytest.param(_case(ReferralKind.ADMIN_TO_CRIMINAL), "900000", False, id="transferred"),
        pytest.param(
            _case(ReferralKind.CUSTOMS_TO_CRIMINAL), "900000", False, id="transferred-by-customs"
        ),
        pytest.param(_case(), "900000", True, id="already-under-oversight"),
    ],
)
def test_no_flag_below_a_threshold_after_a_transfer_or_twice(
    case: CaseFile, volume: str, open_oversight: bool
) -> None:
    assert flag_needed(case, _findings(volume), BOOK, open_oversight=open_oversight) is None


def test_a_transfer_of_another_kind_does_not_count_as_one_to_public_security() -> None:
    case = _case(ReferralKind.CUSTOMS_TO_ENFORCEMENT, ReferralKind.MEDIATION_CONFIRMATION)
    assert flag_needed(case, _findings("900000"), BOOK, open_oversight=False) is not None


def test_findings_in_another_currency_are_not_flagged() -> None:
    findings = _findings("900000", currency="USD")
    assert flag_needed(_case(), findings, BOOK, open_oversight=False) is None


def test_only_a_penalty_carries_findings_oversight_reads() -> None:
    findings = _findings("900000")
    penalty = CaseStatusChanged(local_ref="R", status=CaseStatus.PENALIZED, findings=findings)
    other = CaseStatusChanged(local_ref="R", status=CaseStatus.INVESTIGATING, findings=findings)
    assert penalty_findings(penalty) == findings
    assert penalty_findings(other) is None


def _view(status: OversightStatus) -> OversightView:
    return OversightView(OVERSIGHT, REG, PROC, status)


SUGGESTED = OversightSuggested(
    oversight_id=OVERSIGHT, case_id=CASE, reason="transfer", reply_by=T, reply_rule="r@2021-09-06"
)
ANSWERED = OversightAnswered(oversight_id=OVERSIGHT, case_id=CASE, explanation="not criminal")


def test_the_procuratorate_suggests_and_the_regulator_answers() -> None:
    assert step_oversight(_view(OversightStatus.FLAGGED), SUGGESTED, PROC) is (
        OversightStatus.SUGGESTED
    )
    assert step_oversight(_view(OversightStatus.SUGGESTED), ANSWERED, REG) is (
        OversightStatus.ANSWERED
    )


@pytest.mark.parametrize(
    ("status", "payload", "sender", "why"),
    [
        (OversightStatus.FLAGGED, SUGGESTED, REG, "only procuratorate-shanghai suggests"),
        (OversightStatus.FLAGGED, SUGGESTED, "procuratorate-guangdong", "only procuratorate"),
        (OversightStatus.SUGGESTED, ANSWERED, PROC, "only amr-shanghai answers"),
        (OversightStatus.FLAGGED, ANSWERED, REG, "no suggestion to answer"),
        (OversightStatus.TRANSFERRED, SUGGESTED, PROC, "already transferred"),
        (OversightStatus.ANSWERED, ANSWERED, REG, "already answered"),
        (OversightStatus.CLOSED, SUGGESTED, PROC, "already closed"),
        (OversightStatus.CLOSED, ANSWERED, REG, "already closed"),
    ],
)
def test_anyone_else_or_out_of_turn_is_refused(
    status: OversightStatus,
    payload: OversightSuggested | OversightAnswered,
    sender: str,
    why: str,
) -> None:
    with pytest.raises(RefusedStep, match=why):
        step_oversight(_view(status), payload, sender)


def test_the_oversight_rules_cite_their_sources() -> None:
    reply = BOOK.in_force("oversight.reply", date(2026, 1, 1))
    assert "高检发释字〔2021〕4号" in reply.source
    assert reply.values == {"amount": 7, "unit": "calendar_days"}
    handover = BOOK.in_force("transfer.handover", date(2026, 1, 1))
    assert handover.values == {"amount": 3, "unit": "calendar_days"}
    assert "Decree 310" in handover.source
    assert "art. 12" in handover.source
    suspicion = BOOK.in_force("transfer.on_suspicion", date(2026, 1, 1))
    assert "art. 3 para. 2" in suspicion.source
    assert suspicion.effective_from == date(2020, 8, 7)
