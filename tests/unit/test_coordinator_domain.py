"""The coordinator's pure rules: shared status, parties, referral tracking, need-to-know."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contracts.base import Payload
from contracts.cases import CaseClosed, CaseOpened, CaseStatus, CaseStatusChanged, Goods
from contracts.customs import GoodsReleased
from contracts.judicial import ConfirmationIssued, JudgmentRendered
from contracts.referrals import (
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralOverdue,
    ReferralStage,
    ReferralState,
    ReferralWithdrawn,
)
from services.coordinator.cases.domain import (
    COORDINATOR,
    CaseFile,
    CaseReferral,
    EventFacts,
    RefusedStep,
    apply_event,
    case_id_of,
    may_see,
    summarize,
)
from tests.unit.builders import AMR, CUSTOMS, PSB, cny, goods_detained, referral_issued, trademark

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
REFERRAL_ID = "01JABCDEFGHJKMNPQRSTVWXYZ1"
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
S = CaseStatus


def facts(
    payload: Payload,
    *,
    sender: str = CUSTOMS,
    recipient: str = AMR,
    at: datetime = T0,
    event_id: str = "01JABCDEFGHJKMNPQRSTVWX000",
) -> EventFacts:
    return EventFacts(
        event_id=event_id,
        event_type=payload.event_type,
        sender=sender,
        recipient=recipient,
        time=at,
        payload=payload,
    )


def opened(local_ref: str = "沪关缉〔2026〕1号", title: str = "Counterfeit shoes") -> CaseOpened:
    return CaseOpened(
        local_ref=local_ref,
        title=title,
        ip_rights=[trademark()],
        parties=[],
        goods=[Goods(description="sports shoes", quantity=1200)],
        opened_at=T0,
    )


def judgment() -> JudgmentRendered:
    return JudgmentRendered(
        case_id=CASE_ID, court_ref="(2026)沪73刑初1号", verdict="guilty", rendered_at=T0
    )


# --- shared status -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "payload", "after"),
    [
        (S.OPEN, CaseStatusChanged(local_ref="R-1", status=S.PENALIZED), S.PENALIZED),
        (S.REFERRED, CaseStatusChanged(local_ref="R-1", status=S.IN_TRIAL), S.IN_TRIAL),
        (S.INVESTIGATING, CaseClosed(local_ref="R-1", outcome="fined"), S.CLOSED),
        (S.OPEN, referral_issued(CASE_ID, REFERRAL_ID), S.REFERRED),
        (S.INVESTIGATING, judgment(), S.JUDGED),
        (S.OPEN, goods_detained(CASE_ID), S.OPEN),
        (S.PROSECUTING, goods_detained(CASE_ID), S.PROSECUTING),
        (S.OPEN, opened(), S.OPEN),
        (S.FILED, GoodsReleased(detention_id=REFERRAL_ID, case_id=CASE_ID, reason="bond"), S.FILED),
    ],
)
def test_the_shared_status_follows_what_happened(
    before: CaseStatus, payload: Payload, after: CaseStatus
) -> None:
    case = CaseFile(CASE_ID, status=before, parties={CUSTOMS: "R-1"})

    updated, line = apply_event(case, facts(payload))

    assert updated.status is after
    assert line.status_after is after


def _referred_case(state: ReferralState, status: CaseStatus = S.REFERRED) -> CaseFile:
    referral = CaseReferral(REFERRAL_ID, "customs_to_enforcement", CUSTOMS, AMR, state, T0, T0)
    return CaseFile(
        CASE_ID,
        status=status,
        parties={CUSTOMS: "R-1", AMR: None},
        referrals={REFERRAL_ID: referral},
    )


@pytest.mark.parametrize(
    ("state", "before", "payload", "after"),
    [
        pytest.param(
            ReferralState.ISSUED,
            S.PENALIZED,
            ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-1"),
            S.PENALIZED,
            id="acknowledged-changes-nothing",
        ),
        pytest.param(
            ReferralState.ACKNOWLEDGED,
            S.REFERRED,
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="沪市监〔2026〕7号"),
            S.INVESTIGATING,
            id="accepted",
        ),
        pytest.param(
            ReferralState.ISSUED,
            S.REFERRED,
            ReferralDeclined(referral_id=REFERRAL_ID, reason="no jurisdiction"),
            S.DECLINED,
            id="declined",
        ),
    ],
)
def test_the_recipients_referral_steps_set_the_shared_status(
    state: ReferralState, before: CaseStatus, payload: Payload, after: CaseStatus
) -> None:
    case = _referred_case(state, before)

    updated, line = apply_event(case, facts(payload, sender=AMR, recipient=CUSTOMS))

    assert updated.status is after
    assert line.status_after is after


# --- parties -------------------------------------------------------------------------------------


def test_the_opener_becomes_a_party_with_its_local_reference() -> None:
    updated, _ = apply_event(
        CaseFile(CASE_ID), facts(opened("沪关缉〔2026〕1号"), recipient=COORDINATOR)
    )

    assert updated.parties == {CUSTOMS: "沪关缉〔2026〕1号"}
    assert updated.title == "Counterfeit shoes"


def test_whom_a_party_addresses_becomes_a_party_but_the_coordinator_never_does() -> None:
    case = CaseFile(CASE_ID, parties={CUSTOMS: None})

    after_detention, _ = apply_event(case, facts(goods_detained(CASE_ID)))
    from_coordinator, _ = apply_event(
        after_detention,
        facts(
            ReferralOverdue(
                referral_id=REFERRAL_ID, case_id=CASE_ID, stage=ReferralStage.ACKNOWLEDGE, due_at=T0
            ),
            sender=COORDINATOR,
            recipient=PSB,
        ),
    )

    assert after_detention.parties == {CUSTOMS: None, AMR: None}
    assert from_coordinator.parties == {CUSTOMS: None, AMR: None, PSB: None}
    assert COORDINATOR not in from_coordinator.parties


def test_accepting_a_referral_records_the_accepting_agencys_reference() -> None:
    case = _referred_case(ReferralState.ACKNOWLEDGED)

    updated, _ = apply_event(
        case,
        facts(
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="沪市监〔2026〕7号"),
            sender=AMR,
            recipient=CUSTOMS,
        ),
    )

    assert updated.parties == {CUSTOMS: "R-1", AMR: "沪市监〔2026〕7号"}


def test_a_later_event_does_not_erase_a_known_local_reference() -> None:
    case = CaseFile(CASE_ID, parties={CUSTOMS: "R-1"})

    updated, _ = apply_event(case, facts(goods_detained(CASE_ID)))

    assert updated.parties[CUSTOMS] == "R-1"


def test_a_second_case_opened_does_not_rename_the_case() -> None:
    case = CaseFile(CASE_ID, title="First title", parties={CUSTOMS: "R-1", AMR: None})

    updated, _ = apply_event(
        case, facts(opened("R-9", title="Second title"), sender=AMR, recipient=COORDINATOR)
    )

    assert updated.title == "First title"
    assert updated.parties == {CUSTOMS: "R-1", AMR: "R-9"}


def test_applying_an_event_leaves_the_case_it_was_given_unchanged() -> None:
    case = _referred_case(ReferralState.ISSUED)

    apply_event(
        case,
        facts(
            ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-1"),
            sender=AMR,
            recipient=CUSTOMS,
        ),
    )
    apply_event(case, facts(goods_detained(CASE_ID), sender=CUSTOMS, recipient=PSB))

    assert case.referrals[REFERRAL_ID].state is ReferralState.ISSUED
    assert case.parties == {CUSTOMS: "R-1", AMR: None}


# --- referral tracking ---------------------------------------------------------------------------


def test_a_referral_moves_through_issued_acknowledged_accepted_concluded() -> None:
    steps: list[tuple[Payload, str, str, ReferralState]] = [
        (referral_issued(CASE_ID, REFERRAL_ID), CUSTOMS, AMR, ReferralState.ISSUED),
        (
            ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-1"),
            AMR,
            CUSTOMS,
            ReferralState.ACKNOWLEDGED,
        ),
        (
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="A-7"),
            AMR,
            CUSTOMS,
            ReferralState.ACCEPTED,
        ),
        (
            ReferralConcluded(referral_id=REFERRAL_ID, outcome="fined 250000 CNY"),
            AMR,
            CUSTOMS,
            ReferralState.CONCLUDED,
        ),
    ]
    case = CaseFile(CASE_ID, parties={CUSTOMS: "R-1"})
    for hour, (payload, sender, recipient, expected) in enumerate(steps):
        at = T0 + timedelta(hours=hour)
        case, _ = apply_event(case, facts(payload, sender=sender, recipient=recipient, at=at))
        assert case.referrals[REFERRAL_ID].state is expected

    referral = case.referrals[REFERRAL_ID]
    assert (referral.sender, referral.recipient) == (CUSTOMS, AMR)
    assert referral.kind == "customs_to_enforcement"
    assert referral.issued_at == T0
    assert referral.updated_at == T0 + timedelta(hours=3)


def test_the_sender_may_withdraw_an_accepted_referral() -> None:
    updated, _ = apply_event(
        _referred_case(ReferralState.ACCEPTED),
        facts(ReferralWithdrawn(referral_id=REFERRAL_ID, reason="settled")),
    )

    assert updated.referrals[REFERRAL_ID].state is ReferralState.WITHDRAWN


@pytest.mark.parametrize(
    ("case", "payload", "sender", "recipient", "message"),
    [
        pytest.param(
            _referred_case(ReferralState.ISSUED),
            ReferralConcluded(referral_id=REFERRAL_ID, outcome="fined"),
            AMR,
            CUSTOMS,
            "not allowed from state issued",
            id="concluded-straight-after-issued",
        ),
        pytest.param(
            _referred_case(ReferralState.ISSUED),
            referral_issued(CASE_ID, REFERRAL_ID),
            CUSTOMS,
            AMR,
            "already issued",
            id="issued-twice",
        ),
        pytest.param(
            replace(_referred_case(ReferralState.ISSUED), parties={CUSTOMS: "R-1", PSB: None}),
            ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-1"),
            PSB,
            CUSTOMS,
            f"{PSB} is not party to referral",
            id="third-agency",
        ),
        pytest.param(
            CaseFile(CASE_ID, parties={CUSTOMS: "R-1", AMR: None}),
            ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-1"),
            AMR,
            CUSTOMS,
            "is not known on this case",
            id="unknown-referral",
        ),
        pytest.param(
            _referred_case(ReferralState.ISSUED),
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="A-7"),
            CUSTOMS,
            AMR,
            "must come from the recipient",
            id="sender-accepts-its-own-referral",
        ),
        pytest.param(
            _referred_case(ReferralState.DECLINED),
            ReferralAccepted(referral_id=REFERRAL_ID, local_ref="A-7"),
            AMR,
            CUSTOMS,
            "not allowed from state declined",
            id="accept-after-decline",
        ),
    ],
)
def test_a_referral_step_that_does_not_fit_is_refused_with_a_reason(
    case: CaseFile, payload: Payload, sender: str, recipient: str, message: str
) -> None:
    with pytest.raises(RefusedStep) as refused:
        apply_event(case, facts(payload, sender=sender, recipient=recipient))

    assert message in str(refused.value)
    assert REFERRAL_ID in str(refused.value)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(
            ReferralOverdue(
                referral_id=REFERRAL_ID, case_id=CASE_ID, stage=ReferralStage.DECIDE, due_at=T0
            ),
            id="overdue",
        ),
        pytest.param(
            ConfirmationIssued(
                referral_id=REFERRAL_ID, case_id=CASE_ID, confirmation_ref="C-1", confirmed=True
            ),
            id="confirmation",
        ),
    ],
)
def test_events_that_name_a_referral_but_are_not_steps_leave_it_alone(payload: Payload) -> None:
    case = _referred_case(ReferralState.ISSUED)

    updated, _ = apply_event(case, facts(payload, sender=COORDINATOR, recipient=AMR))

    assert updated.referrals == case.referrals


def test_the_timeline_line_records_the_event() -> None:
    at = T0 + timedelta(minutes=5)
    _, line = apply_event(
        CaseFile(CASE_ID, parties={CUSTOMS: "R-1"}),
        facts(goods_detained(CASE_ID), at=at, event_id="01JABCDEFGHJKMNPQRSTVWX123"),
    )

    assert line.event_id == "01JABCDEFGHJKMNPQRSTVWX123"
    assert line.event_type == "goods.detained"
    assert (line.sender, line.recipient, line.time) == (CUSTOMS, AMR, at)
    assert "1200" in line.summary


# --- need-to-know --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requester", "allowed"),
    [
        (CUSTOMS, True),
        (AMR, True),
        (PSB, False),
        ("customs-guangdong", False),
        (COORDINATOR, True),
    ],
)
def test_only_parties_and_the_coordinator_may_see_a_case(requester: str, allowed: bool) -> None:
    case = CaseFile(CASE_ID, parties={CUSTOMS: "R-1", AMR: None})

    assert may_see(case, requester) is allowed


def test_the_case_of_an_event_is_its_envelope_subject_first() -> None:
    other = "01JABCDEFGHJKMNPQRSTVWXYZ7"

    assert case_id_of(CASE_ID, goods_detained(other)) == CASE_ID
    assert case_id_of(None, goods_detained(other)) == other
    assert case_id_of(None, CaseClosed(local_ref="R-1", outcome="done")) is None


# --- summaries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "facts_in_line"),
    [
        (
            goods_detained(CASE_ID, quantity=480, port="Yangshan", declared_value=cny("9900.50")),
            ["480", "Yangshan", "6403990090", "9900.50", "CNY"],
        ),
        (
            ReferralDeclined(referral_id=REFERRAL_ID, reason="outside our region"),
            ["declined", "outside our region"],
        ),
        (referral_issued(CASE_ID), ["customs_to_enforcement", "counterfeit trademark"]),
        (ReferralAcknowledged(referral_id=REFERRAL_ID, receipt="RCPT-77"), ["RCPT-77"]),
        (ReferralAccepted(referral_id=REFERRAL_ID, local_ref="A-7"), ["accepted", "A-7"]),
        (CaseClosed(local_ref="R-1", outcome="fined"), ["R-1", "fined"]),
        (
            CaseStatusChanged(local_ref="R-1", status=S.FILED, note="criminal case filed"),
            ["R-1", "filed", "criminal case filed"],
        ),
        (opened("R-5", "Fake handbags"), ["R-5", "Fake handbags"]),
        (judgment(), ["(2026)沪73刑初1号", "guilty"]),
        (
            ReferralOverdue(
                referral_id=REFERRAL_ID,
                case_id=CASE_ID,
                stage=ReferralStage.ACKNOWLEDGE,
                due_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
            ),
            ["OVERDUE", "acknowledge", "2026-03-02 09:30"],
        ),
        (
            ConfirmationIssued(
                referral_id=REFERRAL_ID, case_id=CASE_ID, confirmation_ref="C-9", confirmed=False
            ),
            ["refused", "C-9"],
        ),
    ],
)
def test_a_summary_line_mentions_the_key_facts(payload: Payload, facts_in_line: list[str]) -> None:
    line = summarize(payload)

    for fact in facts_in_line:
        assert fact in line
