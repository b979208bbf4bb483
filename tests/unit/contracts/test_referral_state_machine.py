"""The referral state machine, exhaustively: every state × every step × both parties."""

import itertools

import pytest

from contracts.referrals import (
    REFERRAL_STEPS,
    TERMINAL_REFERRAL_STATES,
    IllegalReferralStep,
    ReferralParty,
    ReferralState,
    step_referral,
)

S = ReferralState
SENDER, RECIPIENT = ReferralParty.SENDER, ReferralParty.RECIPIENT
SUPERVISOR = ReferralParty.SUPERVISOR

# Written out from DESIGN §5 by hand — deliberately NOT derived from REFERRAL_STEPS.
# (state before, event type, party) -> state after; anything absent must be refused.
EXPECTED: dict[tuple[ReferralState | None, str, ReferralParty], ReferralState] = {
    (None, "referral.issued", SENDER): S.ISSUED,
    (S.ISSUED, "referral.acknowledged", RECIPIENT): S.ACKNOWLEDGED,
    (S.ISSUED, "referral.accepted", RECIPIENT): S.ACCEPTED,
    (S.ACKNOWLEDGED, "referral.accepted", RECIPIENT): S.ACCEPTED,
    (S.ISSUED, "referral.declined", RECIPIENT): S.DECLINED,
    (S.ACKNOWLEDGED, "referral.declined", RECIPIENT): S.DECLINED,
    (S.ACCEPTED, "referral.concluded", RECIPIENT): S.CONCLUDED,
    (S.ISSUED, "referral.withdrawn", SENDER): S.WITHDRAWN,
    (S.ACKNOWLEDGED, "referral.withdrawn", SENDER): S.WITHDRAWN,
    (S.ACCEPTED, "referral.withdrawn", SENDER): S.WITHDRAWN,
    (S.DECLINED, "referral.withdrawn", SENDER): S.WITHDRAWN,
    (S.DECLINE_UPHELD, "referral.withdrawn", SENDER): S.WITHDRAWN,
    # reconsideration: the sender asks, the recipient reverses (accepts) or upholds
    (S.DECLINED, "referral.reconsideration_requested", SENDER): S.RECONSIDERING,
    (S.RECONSIDERING, "referral.accepted", RECIPIENT): S.ACCEPTED,
    (S.RECONSIDERING, "referral.decline_upheld", RECIPIENT): S.DECLINE_UPHELD,
    # supervision: opened by the sender or the procuratorate after a (kept) decline
    (S.DECLINED, "referral.supervision_opened", SENDER): S.SUPERVISED,
    (S.DECLINED, "referral.supervision_opened", SUPERVISOR): S.SUPERVISED,
    (S.DECLINE_UPHELD, "referral.supervision_opened", SENDER): S.SUPERVISED,
    (S.DECLINE_UPHELD, "referral.supervision_opened", SUPERVISOR): S.SUPERVISED,
    (S.SUPERVISED, "referral.refusal_explained", RECIPIENT): S.EXPLAINED,
    (S.SUPERVISED, "referral.filing_notified", SUPERVISOR): S.FILING_NOTIFIED,
    (S.EXPLAINED, "referral.filing_notified", SUPERVISOR): S.FILING_NOTIFIED,
    (S.EXPLAINED, "referral.supervision_closed", SUPERVISOR): S.SUPERVISION_CLOSED,
    (S.FILING_NOTIFIED, "referral.accepted", RECIPIENT): S.ACCEPTED,
}

STEPS = [
    "referral.issued",
    "referral.acknowledged",
    "referral.accepted",
    "referral.declined",
    "referral.concluded",
    "referral.withdrawn",
    "referral.reconsideration_requested",
    "referral.decline_upheld",
    "referral.supervision_opened",
    "referral.refusal_explained",
    "referral.filing_notified",
    "referral.supervision_closed",
]
STATES: list[ReferralState | None] = [
    None,
    S.ISSUED,
    S.ACKNOWLEDGED,
    S.ACCEPTED,
    S.CONCLUDED,
    S.DECLINED,
    S.WITHDRAWN,
    S.RECONSIDERING,
    S.DECLINE_UPHELD,
    S.SUPERVISED,
    S.EXPLAINED,
    S.FILING_NOTIFIED,
    S.SUPERVISION_CLOSED,
]
PARTIES = [SENDER, RECIPIENT, SUPERVISOR]
CASES = list(itertools.product(STATES, STEPS, PARTIES))


def test_the_table_covers_exactly_the_twelve_steps_states_and_parties() -> None:
    assert sorted(REFERRAL_STEPS) == sorted(STEPS)
    assert set(STATES) == {None, *ReferralState}
    assert set(PARTIES) == set(ReferralParty)
    assert len(CASES) == 13 * 12 * 3


@pytest.mark.parametrize(("state", "event_type", "by"), CASES)
def test_every_step_is_allowed_or_refused_exactly_as_designed(
    state: ReferralState | None, event_type: str, by: ReferralParty
) -> None:
    expected = EXPECTED.get((state, event_type, by))
    if expected is None:
        with pytest.raises(IllegalReferralStep):
            step_referral(state, event_type, by)
    else:
        assert step_referral(state, event_type, by) is expected


@pytest.mark.parametrize(
    ("state", "event_type", "by", "message"),
    [
        (
            S.ISSUED,
            "referral.concluded",
            RECIPIENT,
            "referral.concluded is not allowed from state issued (allowed from: accepted)",
        ),
        (
            S.CONCLUDED,
            "referral.accepted",
            RECIPIENT,
            (
                "referral.accepted is not allowed from state concluded "
                "(allowed from: issued, acknowledged, reconsidering, filing_notified)"
            ),
        ),
        (S.ISSUED, "referral.accepted", SENDER, "referral.accepted must come from the recipient"),
        (None, "referral.withdrawn", RECIPIENT, "referral.withdrawn must come from the sender"),
        (
            S.DECLINED,
            "referral.supervision_opened",
            RECIPIENT,
            "referral.supervision_opened must come from the sender or supervisor",
        ),
        (
            S.ACCEPTED,
            "referral.reconsideration_requested",
            SENDER,
            "referral.reconsideration_requested is not allowed from state accepted "
            "(allowed from: declined)",
        ),
        (
            S.ISSUED,
            "referral.issued",
            SENDER,
            "referral.issued is not allowed from state issued (allowed from: a new referral)",
        ),
        (
            None,
            "referral.accepted",
            RECIPIENT,
            "referral.accepted is not allowed from state a new referral",
        ),
    ],
)
def test_a_refused_step_says_why_in_words(
    state: ReferralState | None, event_type: str, by: ReferralParty, message: str
) -> None:
    with pytest.raises(IllegalReferralStep) as refused:
        step_referral(state, event_type, by)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    "event_type",
    [
        "referral.overdue",
        "referral.copied",
        "referral.refused",
        "referral.reconsidered",
        "case.opened",
    ],
)
def test_an_event_that_is_not_a_step_is_refused(event_type: str) -> None:
    with pytest.raises(IllegalReferralStep, match="not a referral step"):
        step_referral(S.ISSUED, event_type, SENDER)


def test_an_illegal_step_is_a_value_error() -> None:
    assert issubclass(IllegalReferralStep, ValueError)


def test_terminal_states_are_concluded_withdrawn_and_supervision_closed() -> None:
    assert frozenset({S.CONCLUDED, S.WITHDRAWN, S.SUPERVISION_CLOSED}) == TERMINAL_REFERRAL_STATES


@pytest.mark.parametrize("state", sorted(TERMINAL_REFERRAL_STATES))
def test_no_step_leaves_a_terminal_state(state: ReferralState) -> None:
    for event_type, by in itertools.product(STEPS, PARTIES):
        with pytest.raises(IllegalReferralStep):
            step_referral(state, event_type, by)


def test_the_happy_path_walks_issued_to_concluded() -> None:
    state: ReferralState | None = None
    for event_type, by in [
        ("referral.issued", SENDER),
        ("referral.acknowledged", RECIPIENT),
        ("referral.accepted", RECIPIENT),
        ("referral.concluded", RECIPIENT),
    ]:
        state = step_referral(state, event_type, by)
    assert state is S.CONCLUDED


def test_a_refusal_to_file_can_be_supervised_until_the_police_file() -> None:
    state: ReferralState | None = None
    for event_type, by in [
        ("referral.issued", SENDER),
        ("referral.acknowledged", RECIPIENT),
        ("referral.declined", RECIPIENT),
        ("referral.reconsideration_requested", SENDER),
        ("referral.decline_upheld", RECIPIENT),
        ("referral.supervision_opened", SUPERVISOR),
        ("referral.refusal_explained", RECIPIENT),
        ("referral.filing_notified", SUPERVISOR),
        ("referral.accepted", RECIPIENT),
        ("referral.concluded", RECIPIENT),
    ]:
        state = step_referral(state, event_type, by)
    assert state is S.CONCLUDED
