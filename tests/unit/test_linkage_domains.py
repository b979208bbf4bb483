"""Linkage rules, pure: shared status per kind and supervision, criminal thresholds, powers."""

from datetime import UTC, datetime

import pytest

from contracts.agencies import JudicialRole
from contracts.base import Payload
from contracts.cases import CaseStatus
from contracts.judicial import ConfirmationIssued
from contracts.linkage import (
    FilingNotified,
    ReconsiderationRequested,
    ReferralCopied,
    ReferralDeclineUpheld,
    ReferralRefused,
    RefusalExplained,
    SupervisionClosed,
    SupervisionOpened,
)
from contracts.referrals import (
    ReferralAccepted,
    ReferralKind,
    ReferralParty,
    ReferralState,
)
from services.coordinator.cases.domain import (
    CaseFile,
    CaseReferral,
    EventFacts,
    RefusedStep,
    apply_event,
    party_to_referral,
)
from services.judicial.domain import (
    JUDICIAL_POWERS,
    JudicialAct,
    NotOurPower,
    check_power,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
REFERRAL_ID = "01JABCDEFGHJKMNPQRSTVWXYZ1"
AMR, PSB, PROC, STRANGER = "amr-shanghai", "psb-shanghai", "procuratorate-shanghai", "psb-x"
S, R = CaseStatus, ReferralState


def _case(kind: ReferralKind, state: ReferralState, status: CaseStatus) -> CaseFile:
    referral = CaseReferral(REFERRAL_ID, kind.value, AMR, PSB, state, T0, T0, PROC)
    parties: dict[str, str | None] = {AMR: "A-1", PSB: None, PROC: None}
    return CaseFile(CASE_ID, status=status, parties=parties, referrals={REFERRAL_ID: referral})


def _facts(payload: Payload, sender: str, recipient: str) -> EventFacts:
    return EventFacts(
        "01JABCDEFGHJKMNPQRSTVWX000", payload.event_type, sender, recipient, T0, payload
    )


ID = {"referral_id": REFERRAL_ID}


@pytest.mark.parametrize(
    ("kind", "state", "payload", "sender", "status_after", "referral_after"),
    [
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.ACKNOWLEDGED,
            ReferralAccepted(**ID, local_ref="G-1"),
            PSB,
            S.FILED,
            R.ACCEPTED,
            id="police-accepting-a-transfer-is-filing",
        ),
        pytest.param(
            ReferralKind.CUSTOMS_TO_CRIMINAL,
            R.ISSUED,
            ReferralAccepted(**ID, local_ref="G-1"),
            PSB,
            S.FILED,
            R.ACCEPTED,
            id="customs-transfer-filed",
        ),
        pytest.param(
            ReferralKind.MEDIATION_CONFIRMATION,
            R.ACKNOWLEDGED,
            ReferralAccepted(**ID, local_ref="M-1"),
            PSB,
            S.IN_TRIAL,
            R.ACCEPTED,
            id="court-takes-a-mediation",
        ),
        pytest.param(
            ReferralKind.CRIMINAL_TO_ADMIN,
            R.ACKNOWLEDGED,
            ReferralAccepted(**ID, local_ref="A-1"),
            PSB,
            S.INVESTIGATING,
            R.ACCEPTED,
            id="regulator-takes-a-returned-case",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.DECLINED,
            ReconsiderationRequested(**ID, reason="x"),
            AMR,
            S.REFERRED,
            R.RECONSIDERING,
            id="reconsideration-requested",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.RECONSIDERING,
            ReferralDeclineUpheld(**ID, reason="x"),
            PSB,
            S.DECLINED,
            R.DECLINE_UPHELD,
            id="decline-upheld",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.RECONSIDERING,
            ReferralAccepted(**ID, local_ref="G"),
            PSB,
            S.FILED,
            R.ACCEPTED,
            id="decline-reversed",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.DECLINE_UPHELD,
            SupervisionOpened(**ID, reason="x"),
            PROC,
            S.DECLINED,
            R.SUPERVISED,
            id="procuratorate-supervises",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.DECLINED,
            SupervisionOpened(**ID, reason="x"),
            AMR,
            S.DECLINED,
            R.SUPERVISED,
            id="sender-opens-supervision",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.SUPERVISED,
            RefusalExplained(**ID, explanation="x"),
            PSB,
            S.DECLINED,
            R.EXPLAINED,
            id="refusal-explained",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.EXPLAINED,
            FilingNotified(**ID, reason="x"),
            PROC,
            S.REFERRED,
            R.FILING_NOTIFIED,
            id="notice-to-file",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.EXPLAINED,
            SupervisionClosed(**ID, finding="x"),
            PROC,
            S.DECLINED,
            R.SUPERVISION_CLOSED,
            id="refusal-stands",
        ),
        pytest.param(
            ReferralKind.ADMIN_TO_CRIMINAL,
            R.FILING_NOTIFIED,
            ReferralAccepted(**ID, local_ref="G"),
            PSB,
            S.FILED,
            R.ACCEPTED,
            id="filed-after-notice",
        ),
    ],
)
def test_linkage_steps_move_the_referral_and_the_shared_status(
    kind: ReferralKind,
    state: ReferralState,
    payload: Payload,
    sender: str,
    status_after: CaseStatus,
    referral_after: ReferralState,
) -> None:
    case = _case(kind, state, S.DECLINED if state is not R.ACKNOWLEDGED else S.REFERRED)

    updated, line = apply_event(case, _facts(payload, sender, PSB if sender != PSB else AMR))

    assert updated.status is status_after
    assert updated.referrals[REFERRAL_ID].state is referral_after
    assert line.status_after is status_after


def test_a_confirmed_mediation_is_the_court_s_ruling_and_a_refused_one_is_not() -> None:
    case = _case(ReferralKind.MEDIATION_CONFIRMATION, R.ACCEPTED, S.IN_TRIAL)
    for confirmed, status in ((True, S.JUDGED), (False, S.IN_TRIAL)):
        issued = ConfirmationIssued(
            **ID, case_id=CASE_ID, confirmation_ref="C-1", confirmed=confirmed
        )
        updated, _ = apply_event(case, _facts(issued, PSB, AMR))
        assert updated.status is status
        assert updated.referrals[REFERRAL_ID].state is R.ACCEPTED


@pytest.mark.parametrize(
    "payload",
    [
        ReferralCopied(
            **ID,
            case_id=CASE_ID,
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            sender=AMR,
            recipient=PSB,
            state=R.DECLINED,
            step="referral.declined",
        ),
        ReferralRefused(
            **ID, refused_event_id=CASE_ID, attempted="referral.concluded", reason="too early"
        ),
    ],
)
def test_copies_and_refusals_are_reports_not_steps(payload: Payload) -> None:
    case = _case(ReferralKind.ADMIN_TO_CRIMINAL, R.ACKNOWLEDGED, S.REFERRED)

    updated, line = apply_event(case, _facts(payload, "coordinator", PROC))

    assert updated.referrals == case.referrals
    assert updated.status is S.REFERRED
    assert PROC in updated.parties
    assert line.summary


def test_only_the_supervisor_may_take_a_supervisor_s_step() -> None:
    case = _case(ReferralKind.ADMIN_TO_CRIMINAL, R.EXPLAINED, S.DECLINED)
    for outsider in (AMR, STRANGER):
        with pytest.raises(RefusedStep):
            apply_event(case, _facts(FilingNotified(**ID, reason="x"), outsider, PSB))


def test_the_parties_of_a_referral_are_sender_recipient_and_supervisor() -> None:
    referral = _case(ReferralKind.ADMIN_TO_CRIMINAL, R.ISSUED, S.REFERRED).referrals[REFERRAL_ID]
    assert party_to_referral(referral, AMR) is ReferralParty.SENDER
    assert party_to_referral(referral, PSB) is ReferralParty.RECIPIENT
    assert party_to_referral(referral, PROC) is ReferralParty.SUPERVISOR
    assert party_to_referral(referral, STRANGER) is None


# (criminal thresholds: tests/unit/test_criminal_thresholds.py)


# --- judicial powers ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*JudicialRole, None])
@pytest.mark.parametrize("act", list(JudicialAct))
def test_each_judicial_body_may_do_only_its_own_acts(
    role: JudicialRole | None, act: JudicialAct
) -> None:
    expected = {
        JudicialRole.PUBLIC_SECURITY: {JudicialAct.FILE, JudicialAct.RETURN_NON_CRIMINAL},
        JudicialRole.PROCURATORATE: {
            JudicialAct.SUPERVISE,
            JudicialAct.PROSECUTE,
            JudicialAct.DECLINE_PROSECUTION,
            JudicialAct.CHALLENGE_JUDGMENT,
        },
        JudicialRole.COURT: {
            JudicialAct.TRY,
            JudicialAct.RENDER_JUDGMENT,
            JudicialAct.CONFIRM_MEDIATION,
            JudicialAct.CHALLENGE_JUDGMENT,
            JudicialAct.FINALIZE_JUDGMENT,
        },
    }
    if role is not None and act in expected[role]:
        check_power(role, act)
        assert act in JUDICIAL_POWERS[role]
    else:
        with pytest.raises(NotOurPower, match="is not a power of"):
            check_power(role, act)


def test_the_shared_case_closes_only_when_every_agency_that_opened_a_part_has_closed_it() -> None:
    from contracts.cases import CaseClosed, CaseOpened, CaseStatusChanged

    def opened(ref: str) -> CaseOpened:
        return CaseOpened(
            local_ref=ref, title="Fakes", ip_rights=[], parties=[], goods=[], opened_at=T0
        )

    case, _ = apply_event(CaseFile(CASE_ID), _facts(opened("A-1"), AMR, "coordinator"))
    case, _ = apply_event(  # the regulator addresses the police about it: they are a party
        case, _facts(CaseStatusChanged(local_ref="A-1", status=S.REFERRED), AMR, PSB)
    )
    case, _ = apply_event(case, _facts(opened("G-1"), PSB, "coordinator"))
    case = CaseFile(CASE_ID, status=S.PROSECUTING, parties=case.parties, opened=case.opened)

    case, line = apply_event(
        case, _facts(CaseClosed(local_ref="A-1", outcome="fined"), AMR, "coordinator")
    )
    assert case.status is S.PROSECUTING
    assert line.status_after is S.PROSECUTING
    assert case.closed == frozenset({AMR})

    case, line = apply_event(
        case, _facts(CaseClosed(local_ref="G-1", outcome="judged"), PSB, "coordinator")
    )
    assert case.status is S.CLOSED
    assert line.status_after is S.CLOSED
