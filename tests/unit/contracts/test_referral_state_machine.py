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
}

STEPS = [
    "referral.issued",
    "referral.acknowledged",
    "referral.accepted",
    "referral.declined",
    "referral.concluded",
    "referral.withdrawn",
]
STATES: list[ReferralState | None] = [None, *ReferralState]
CASES = list(itertools.product(STATES, STEPS, list(ReferralParty)))


def test_the_table_covers_exactly_the_six_steps() -> None:
    assert sorted(REFERRAL_STEPS) == sorted(STEPS)
    assert len(CASES) == 7 * 6 * 2


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
                "(allowed from: issued, acknowledged)"
            ),
        ),
        (S.ISSUED, "referral.accepted", SENDER, "referral.accepted must come from the recipient"),
        (None, "referral.withdrawn", RECIPIENT, "referral.withdrawn must come from the sender"),
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


@pytest.mark.parametrize("event_type", ["referral.overdue", "referral.reconsidered", "case.opened"])
def test_an_event_that_is_not_a_step_is_refused(event_type: str) -> None:
    with pytest.raises(IllegalReferralStep, match="not a referral step"):
        step_referral(S.ISSUED, event_type, SENDER)


def test_an_illegal_step_is_a_value_error() -> None:
    assert issubclass(IllegalReferralStep, ValueError)


def test_terminal_states_are_concluded_declined_and_withdrawn() -> None:
    assert frozenset({S.CONCLUDED, S.DECLINED, S.WITHDRAWN}) == TERMINAL_REFERRAL_STATES


@pytest.mark.parametrize("state", sorted(TERMINAL_REFERRAL_STATES))
def test_no_step_leaves_a_terminal_state(state: ReferralState) -> None:
    for event_type, by in itertools.product(STEPS, ReferralParty):
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
