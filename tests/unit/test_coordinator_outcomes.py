"""Outcomes on the shared case file (DESIGN §5, issue 19): appeal, final judgment, a decision
not to prosecute, a cancelled case — the status each moves to, and what each refuses."""

from datetime import UTC, datetime

import pytest

from contracts.base import Payload
from contracts.cases import CaseCancelled, CaseClosed, CaseOpened, CaseStatus
from contracts.judicial import (
    AppealedBy,
    JudgmentAppealed,
    JudgmentFinal,
    JudgmentRendered,
    ProsecutionDeclined,
)
from services.coordinator.cases.domain import (
    CaseFile,
    EventFacts,
    NotAParty,
    NotPermitted,
    RefusedStep,
    apply_event,
    summarize,
)
from tests.unit.builders import AMR, PSB

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
S = CaseStatus
PROCURATORATE = "procuratorate-shanghai"
COURT = "court-shanghai-ip"
STRANGER = "amr-beijing"
FIRST = "(2026)沪73刑初1号"
SECOND = "(2026)沪刑终1号"


def facts(payload: Payload, sender: str, recipient: str = "coordinator") -> EventFacts:
    return EventFacts(
        event_id="01JABCDEFGHJKMNPQRSTVWX000",
        event_type=payload.event_type,
        sender=sender,
        recipient=recipient,
        time=T0,
        payload=payload,
    )


def case_file(status: CaseStatus, *, opened: frozenset[str] = frozenset({AMR})) -> CaseFile:
    parties: dict[str, str | None] = {AMR: "A-1", PSB: "P-1", PROCURATORATE: None, COURT: None}
    return CaseFile(CASE_ID, status=status, parties=parties, opened=opened)


def rendered(court_ref: str = FIRST) -> JudgmentRendered:
    return JudgmentRendered(case_id=CASE_ID, court_ref=court_ref, verdict="guilty", rendered_at=T0)


def appealed(by: AppealedBy = AppealedBy.DEFENDANT) -> JudgmentAppealed:
    return JudgmentAppealed(case_id=CASE_ID, court_ref=FIRST, appealed_by=by, appealed_at=T0)


def final(court_ref: str = SECOND) -> JudgmentFinal:
    return JudgmentFinal(case_id=CASE_ID, court_ref=court_ref, final_at=T0)


def declined() -> ProsecutionDeclined:
    return ProsecutionDeclined(
        case_id=CASE_ID, decision_ref="沪检不诉〔2026〕1号", grounds="insufficient", decided_at=T0
    )


def cancelled(local_ref: str = "A-1") -> CaseCancelled:
    return CaseCancelled(local_ref=local_ref, reason="opened in error", cancelled_at=T0)


# --- status moves --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "payload", "sender", "after"),
    [
        pytest.param(S.JUDGED, appealed(), COURT, S.IN_TRIAL, id="appealed-by-court"),
        pytest.param(
            S.JUDGED, appealed(AppealedBy.PROCURATORATE), PROCURATORATE, S.IN_TRIAL, id="protest"
        ),
        pytest.param(S.JUDGED, final(FIRST), COURT, S.JUDGED, id="final-without-appeal"),
        pytest.param(S.PROSECUTING, declined(), PROCURATORATE, S.DECLINED, id="not-prosecuted"),
        pytest.param(S.FILED, declined(), PROCURATORATE, S.DECLINED, id="declined-from-filed"),
        pytest.param(S.INVESTIGATING, cancelled(), AMR, S.CLOSED, id="cancelled-by-opener"),
        pytest.param(S.REFERRED, cancelled(), AMR, S.CLOSED, id="cancelled-while-referred"),
    ],
)
def test_an_outcome_moves_the_shared_status(
    before: CaseStatus, payload: Payload, sender: str, after: CaseStatus
) -> None:
    updated, line = apply_event(case_file(before), facts(payload, sender))

    assert updated.status is after
    assert line.status_after is after


def test_first_instance_appeal_second_instance_final_reads_judged_in_trial_judged() -> None:
    case = case_file(S.IN_TRIAL)
    seen = []
    for payload in (rendered(FIRST), appealed(), rendered(SECOND), final(SECOND)):
        case, line = apply_event(case, facts(payload, COURT))
        seen.append(line.status_after)

    assert seen == [S.JUDGED, S.IN_TRIAL, S.JUDGED, S.JUDGED]


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before", [S.OPEN, S.INVESTIGATING, S.FILED, S.PROSECUTING, S.IN_TRIAL, S.DECLINED, S.CLOSED]
)
@pytest.mark.parametrize("payload", [appealed(), final()], ids=["appealed", "final"])
def test_no_appeal_and_no_final_judgment_without_a_judgment_on_the_case(
    before: CaseStatus, payload: Payload
) -> None:
    case = case_file(before)

    with pytest.raises(RefusedStep, match="no judgment has been rendered") as refused:
        apply_event(case, facts(payload, COURT))

    assert not isinstance(refused.value, NotPermitted | NotAParty)  # out of order: illegal_step
    assert case.status is before


def test_appealing_again_while_the_appeal_is_heard_is_out_of_order() -> None:
    case, _ = apply_event(case_file(S.JUDGED), facts(appealed(), COURT))

    with pytest.raises(RefusedStep, match="in_trial"):
        apply_event(case, facts(appealed(), COURT))


@pytest.mark.parametrize("sender", [PSB, PROCURATORATE, COURT])
def test_only_an_agency_that_opened_the_case_cancels_it(sender: str) -> None:
    case = case_file(S.INVESTIGATING)

    with pytest.raises(NotPermitted, match=f"{sender} did not open it"):
        apply_event(case, facts(cancelled("X-1"), sender))

    assert case.status is S.INVESTIGATING


def test_a_stranger_cancelling_is_not_a_party() -> None:
    with pytest.raises(NotAParty):
        apply_event(case_file(S.INVESTIGATING), facts(cancelled(), STRANGER))


def test_outcomes_on_a_case_nobody_opened_are_not_a_party() -> None:
    for payload, sender in ((declined(), PROCURATORATE), (cancelled(), AMR), (final(), COURT)):
        with pytest.raises(NotAParty):
            apply_event(CaseFile(CASE_ID), facts(payload, sender))


def test_a_cancellation_by_one_of_two_openers_leaves_the_other_s_part_open() -> None:
    case = case_file(S.FILED, opened=frozenset({AMR, PSB}))

    case, line = apply_event(case, facts(cancelled(), AMR))
    assert (case.status, line.status_after) == (S.FILED, S.FILED)
    assert case.closed == {AMR}

    case, line = apply_event(case, facts(CaseClosed(local_ref="P-1", outcome="done"), PSB))
    assert case.status is S.CLOSED


def test_an_opener_may_cancel_a_case_it_opened_through_case_opened() -> None:
    opened = CaseOpened(
        local_ref="A-9", title="Fakes", ip_rights=[], parties=[], goods=[], opened_at=T0
    )
    case, _ = apply_event(CaseFile(CASE_ID), facts(opened, AMR))

    case, line = apply_event(case, facts(cancelled("A-9"), AMR))

    assert case.status is S.CLOSED
    assert line.summary == "cancelled A-9: opened in error"


# --- the timeline ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (appealed(), [FIRST, "appealed by the defendant"]),
        (appealed(AppealedBy.PROCURATORATE), [FIRST, "protested by the procuratorate"]),
        (final(), [SECOND, "is final"]),
        (declined(), ["prosecution declined", "insufficient"]),
        (cancelled(), ["cancelled A-1", "opened in error"]),
    ],
)
def test_each_outcome_reads_as_a_line_of_the_timeline(payload: Payload, words: list[str]) -> None:
    line = summarize(payload)

    assert all(word in line for word in words), line
