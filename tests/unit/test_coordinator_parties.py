"""Parties from the case's own history, and referral steps from the end that owes them (§4a)."""

from datetime import UTC, datetime

import pytest

from contracts.base import Payload
from contracts.cases import CaseClosed, CaseOpened, CaseStatus, CaseStatusChanged
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
from contracts.referral_clocks import (
    ClockStopGround,
    ReferralClockResumed,
    ReferralClockStopped,
    ReferralExtended,
)
from contracts.referrals import (
    CLOCK_STEPS,
    REFERRAL_STEPS,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralKind,
    ReferralOverdue,
    ReferralParty,
    ReferralStage,
    ReferralState,
    ReferralWithdrawn,
)
from services.coordinator.cases.domain import (
    COORDINATOR,
    CaseFile,
    CaseReferral,
    EventFacts,
    NotAParty,
    NotPermitted,
    RefusedStep,
    apply_event,
    may_see,
    needs_case,
)
from tests.unit.builders import AMR, CUSTOMS, PSB, goods_detained, referral_issued

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
REFERRAL_ID = "01JABCDEFGHJKMNPQRSTVWXYZ1"
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
PROCURATORATE = "procuratorate-shanghai"
STRANGER = "amr-guangdong"


def facts(
    payload: Payload, sender: str, recipient: str = COORDINATOR, supervisor: str | None = None
) -> EventFacts:
    return EventFacts(
        event_id="01JABCDEFGHJKMNPQRSTVWX000",
        event_type=payload.event_type,
        sender=sender,
        recipient=recipient,
        time=T0,
        payload=payload,
        supervisor=supervisor,
    )


def opened() -> CaseOpened:
    return CaseOpened(
        local_ref="R-1", title="Counterfeit shoes", ip_rights=[], parties=[], goods=[], opened_at=T0
    )


def status(to: CaseStatus = CaseStatus.CLOSED) -> CaseStatusChanged:
    return CaseStatusChanged(local_ref="X-1", status=to, note="ours now")


def open_case() -> CaseFile:
    case, _ = apply_event(CaseFile(CASE_ID), facts(opened(), CUSTOMS))
    return case


def referred(state: ReferralState = ReferralState.ISSUED) -> CaseFile:
    """Customs → police, supervised by the procuratorate; the regulator a party too."""
    referral = CaseReferral(
        REFERRAL_ID,
        ReferralKind.CUSTOMS_TO_CRIMINAL.value,
        CUSTOMS,
        PSB,
        state,
        T0,
        T0,
        PROCURATORATE,
    )
    return CaseFile(
        CASE_ID,
        status=CaseStatus.REFERRED,
        parties={CUSTOMS: "R-1", PSB: None, PROCURATORATE: None, AMR: None},
        referrals={REFERRAL_ID: referral},
        opened=frozenset({CUSTOMS}),
    )


# --- who is a party ------------------------------------------------------------------------------


def test_the_opener_is_the_first_party() -> None:
    assert open_case().parties == {CUSTOMS: "R-1"}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(status(), id="status"),
        pytest.param(opened(), id="opened-again"),
        pytest.param(CaseClosed(local_ref="X-1", outcome="mine"), id="closed"),
        pytest.param(referral_issued(CASE_ID), id="referral"),
    ],
)
def test_a_stranger_writing_about_a_case_is_refused_and_does_not_become_a_party(
    payload: Payload,
) -> None:
    case = open_case()

    with pytest.raises(NotAParty, match=f"{STRANGER} is not party to case {CASE_ID}"):
        apply_event(case, facts(payload, STRANGER))

    assert STRANGER not in case.parties
    assert not may_see(case, STRANGER)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(status(), id="status"),
        pytest.param(goods_detained(CASE_ID), id="detention"),
        pytest.param(referral_issued(CASE_ID), id="referral"),
        pytest.param(CaseClosed(local_ref="R-1", outcome="x"), id="closed"),
    ],
)
def test_only_case_opened_starts_a_case(payload: Payload) -> None:
    with pytest.raises(NotAParty, match=r"only case\.opened starts a case"):
        apply_event(CaseFile(CASE_ID), facts(payload, CUSTOMS))


def test_a_referral_enrols_its_recipient_and_the_supervising_procuratorate() -> None:
    case, _ = apply_event(
        open_case(),
        facts(referral_issued(CASE_ID, REFERRAL_ID), CUSTOMS, PSB, supervisor=PROCURATORATE),
    )

    assert set(case.parties) == {CUSTOMS, PSB, PROCURATORATE}
    assert case.referrals[REFERRAL_ID].supervisor == PROCURATORATE


def test_whom_a_party_addresses_about_the_case_becomes_a_party() -> None:
    case, _ = apply_event(open_case(), facts(status(CaseStatus.PROSECUTING), CUSTOMS, "court-x"))

    assert set(case.parties) == {CUSTOMS, "court-x"}


def test_the_coordinators_copy_enrols_its_addressee() -> None:
    copy = ReferralCopied(
        referral_id=REFERRAL_ID,
        case_id=CASE_ID,
        kind=ReferralKind.CUSTOMS_TO_CRIMINAL,
        sender=CUSTOMS,
        recipient=PSB,
        state=ReferralState.DECLINED,
        step="referral.declined",
    )
    case, _ = apply_event(referred(), facts(copy, COORDINATOR, "procuratorate-other"))

    assert "procuratorate-other" in case.parties
    assert COORDINATOR not in case.parties


def test_a_refusal_report_does_not_enrol_the_stranger_it_answers() -> None:
    report = ReferralRefused(
        referral_id=REFERRAL_ID,
        refused_event_id="01JABCDEFGHJKMNPQRSTVWX999",
        attempted="referral.concluded",
        reason="not party",
    )
    case, _ = apply_event(referred(), facts(report, PSB, STRANGER))

    assert STRANGER not in case.parties


def test_only_a_party_to_the_referral_reports_a_refusal_on_it() -> None:
    report = ReferralRefused(
        referral_id=REFERRAL_ID,
        refused_event_id="01JABCDEFGHJKMNPQRSTVWX999",
        attempted="referral.concluded",
        reason="made up",
    )
    with pytest.raises(NotPermitted, match="not party"):
        apply_event(referred(), facts(report, AMR, PSB))


def test_the_coordinator_writes_about_any_case_without_becoming_a_party() -> None:
    overdue = ReferralOverdue(
        referral_id=REFERRAL_ID, case_id=CASE_ID, stage=ReferralStage.ACKNOWLEDGE, due_at=T0
    )
    case, _ = apply_event(referred(), facts(overdue, COORDINATOR, PSB))

    assert COORDINATOR not in case.parties


def test_a_refused_stranger_leaves_status_and_parties_as_they_were() -> None:
    case = referred()

    with pytest.raises(RefusedStep):
        apply_event(case, facts(status(CaseStatus.CLOSED), STRANGER))

    assert case.status is CaseStatus.REFERRED
    assert STRANGER not in case.parties


@pytest.mark.parametrize(
    ("event_type", "needed"),
    [
        ("case.status_changed", True),
        ("referral.accepted", True),
        ("referral.overdue", True),
        ("goods.detained", True),
        ("judgment.rendered", True),
        ("referral.refused", False),
        ("warning.issued", False),
        ("warning.delivered", False),
    ],
)
def test_case_events_must_name_their_case(event_type: str, needed: bool) -> None:
    assert needs_case(event_type) is needed


# --- which end of a referral owes a step ---------------------------------------------------------

STEP_PAYLOADS: dict[str, Payload] = {
    "referral.acknowledged": ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-1"),
    "referral.accepted": ReferralAccepted(referral_id=REFERRAL_ID, local_ref="P-1"),
    "referral.declined": ReferralDeclined(referral_id=REFERRAL_ID, reason="no"),
    "referral.concluded": ReferralConcluded(referral_id=REFERRAL_ID, outcome="done"),
    "referral.withdrawn": ReferralWithdrawn(referral_id=REFERRAL_ID, reason="settled"),
    "referral.reconsideration_requested": ReconsiderationRequested(
        referral_id=REFERRAL_ID, reason="value exceeds threshold"
    ),
    "referral.decline_upheld": ReferralDeclineUpheld(referral_id=REFERRAL_ID, reason="still no"),
    "referral.supervision_opened": SupervisionOpened(referral_id=REFERRAL_ID, reason="refusal"),
    "referral.refusal_explained": RefusalExplained(referral_id=REFERRAL_ID, explanation="why"),
    "referral.filing_notified": FilingNotified(referral_id=REFERRAL_ID, reason="file it"),
    "referral.supervision_closed": SupervisionClosed(referral_id=REFERRAL_ID, finding="fine"),
}
ENDS = {
    ReferralParty.SENDER: CUSTOMS,
    ReferralParty.RECIPIENT: PSB,
    ReferralParty.SUPERVISOR: PROCURATORATE,
}
STEP_CELLS = [
    pytest.param(event_type, end, end in step.by, id=f"{event_type}-by-{end.value}")
    for event_type, step in REFERRAL_STEPS.items()
    if event_type != "referral.issued"
    for end in ReferralParty
]


def test_every_follow_up_step_has_a_payload_here() -> None:
    assert set(STEP_PAYLOADS) == set(REFERRAL_STEPS) - {"referral.issued"}


@pytest.mark.parametrize(("event_type", "end", "owed"), STEP_CELLS)
def test_a_step_comes_from_the_end_the_state_machine_says_owes_it(
    event_type: str, end: ReferralParty, owed: bool
) -> None:
    step = REFERRAL_STEPS[event_type]
    state = next(s for s in ReferralState if s in step.from_states)
    sender = ENDS[end]
    event = facts(STEP_PAYLOADS[event_type], sender, CUSTOMS if sender != CUSTOMS else PSB)

    if owed:
        updated, _ = apply_event(referred(state), event)
        assert updated.referrals[REFERRAL_ID].state is step.to_state
    else:
        with pytest.raises(NotPermitted, match=f"must come from the .*{sender} is its"):
            apply_event(referred(state), event)


@pytest.mark.parametrize("event_type", sorted(STEP_PAYLOADS))
def test_a_case_party_outside_the_referral_takes_none_of_its_steps(event_type: str) -> None:
    state = next(s for s in ReferralState if s in REFERRAL_STEPS[event_type].from_states)

    with pytest.raises(NotPermitted, match=f"{AMR} is not party to referral"):
        apply_event(referred(state), facts(STEP_PAYLOADS[event_type], AMR, PSB))


CLOCK_PAYLOADS: dict[str, Payload] = {
    "referral.extended": ReferralExtended(
        referral_id=REFERRAL_ID, stage=ReferralStage.DECIDE, reason="complex case"
    ),
    "referral.clock_stopped": ReferralClockStopped(
        referral_id=REFERRAL_ID,
        stage=ReferralStage.DECIDE,
        ground=next(iter(ClockStopGround)),
        reason="sent for identification",
    ),
    "referral.clock_resumed": ReferralClockResumed(
        referral_id=REFERRAL_ID, stage=ReferralStage.DECIDE
    ),
}


def test_every_clock_step_has_a_payload_here() -> None:
    assert set(CLOCK_PAYLOADS) == set(CLOCK_STEPS)


@pytest.mark.parametrize(
    ("event_type", "end"),
    [
        pytest.param(event_type, end, id=f"{event_type}-by-{end.value}")
        for event_type, owed_by in CLOCK_STEPS.items()
        for end in ReferralParty
        if end not in owed_by
    ],
)
def test_a_clock_step_from_an_end_that_owes_no_stage_is_not_permitted(
    event_type: str, end: ReferralParty
) -> None:
    sender = ENDS[end]
    event = facts(CLOCK_PAYLOADS[event_type], sender, CUSTOMS if sender != CUSTOMS else PSB)

    with pytest.raises(NotPermitted, match=f"must come from the .*{sender} is its"):
        apply_event(referred(ReferralState.ACKNOWLEDGED), event)


def test_the_right_end_out_of_order_is_an_illegal_step_not_a_permission() -> None:
    with pytest.raises(RefusedStep) as refused:
        apply_event(referred(ReferralState.ISSUED), facts(STEP_PAYLOADS["referral.concluded"], PSB))

    assert not isinstance(refused.value, NotPermitted | NotAParty)
    assert "not allowed from state issued" in str(refused.value)
