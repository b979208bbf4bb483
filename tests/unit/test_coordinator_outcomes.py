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
    JudgmentStage,
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


J = JudgmentStage


def case_file(
    status: CaseStatus,
    *,
    opened: frozenset[str] = frozenset({AMR}),
    judgment: JudgmentStage | None = None,
) -> CaseFile:
    parties: dict[str, str | None] = {AMR: "A-1", PSB: "P-1", PROCURATORATE: None, COURT: None}
    return CaseFile(CASE_ID, status=status, parties=parties, opened=opened, judgment=judgment)


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


@pytest.mark.parametrize(
    ("payload", "sender", "judgment", "after"),
    [
        pytest.param(appealed(), COURT, J.APPEALED, S.IN_TRIAL, id="appealed-by-court"),
        pytest.param(
            appealed(AppealedBy.PROCURATORATE), PROCURATORATE, J.APPEALED, S.IN_TRIAL, id="protest"
        ),
        pytest.param(final(FIRST), COURT, J.FINAL, S.JUDGED, id="final-without-appeal"),
    ],
)
def test_a_rendered_judgment_is_appealed_or_becomes_final(
    payload: Payload, sender: str, judgment: JudgmentStage, after: CaseStatus
) -> None:
    updated, line = apply_event(case_file(S.JUDGED, judgment=J.RENDERED), facts(payload, sender))

    assert (updated.status, line.status_after, updated.judgment) == (after, after, judgment)


@pytest.mark.parametrize(
    "payloads",
    [
        pytest.param([rendered(FIRST), appealed(), final(SECOND)], id="second-instance-is-final"),
        pytest.param(
            [rendered(FIRST), appealed(), rendered(SECOND), final(SECOND)], id="second-rendered"
        ),
    ],
)
def test_first_instance_then_appeal_then_final(payloads: list[Payload]) -> None:
    case = case_file(S.IN_TRIAL)
    seen = []
    for payload in payloads:
        case, line = apply_event(case, facts(payload, COURT))
        seen.append(line.status_after)

    assert seen[:2] == [S.JUDGED, S.IN_TRIAL]
    assert seen[-1] is S.JUDGED
    assert case.judgment is J.FINAL


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before", [S.OPEN, S.INVESTIGATING, S.FILED, S.PROSECUTING, S.IN_TRIAL, S.JUDGED, S.CLOSED]
)
@pytest.mark.parametrize("payload", [appealed(), final()], ids=["appealed", "final"])
def test_no_appeal_and_no_final_judgment_without_a_judgment_on_the_case(
    before: CaseStatus, payload: Payload
) -> None:
    case = case_file(before)  # even "judged" by a status change: no judgment.rendered

    with pytest.raises(RefusedStep, match="no judgment has been rendered") as refused:
        apply_event(case, facts(payload, COURT))

    assert not isinstance(refused.value, NotPermitted | NotAParty)  # out of order: illegal_step
    assert case.status is before


@pytest.mark.parametrize(
    ("judgment", "payload"),
    [
        pytest.param(J.APPEALED, appealed(), id="appealed-twice"),
        pytest.param(J.FINAL, appealed(), id="appealed-after-final"),
        pytest.param(J.FINAL, final(), id="final-twice"),
    ],
)
def test_an_appeal_or_final_judgment_out_of_order_is_refused(
    judgment: JudgmentStage, payload: Payload
) -> None:
    case = case_file(S.JUDGED, judgment=judgment)

    with pytest.raises(RefusedStep, match=f"its judgment is {judgment.value}"):
        apply_event(case, facts(payload, COURT))


def test_a_new_judgment_after_an_appeal_may_be_appealed_no_further_once_final() -> None:
    case, _ = apply_event(case_file(S.IN_TRIAL), facts(rendered(FIRST), COURT))
    case, _ = apply_event(case, facts(final(FIRST), COURT))

    assert case.judgment is J.FINAL
    with pytest.raises(RefusedStep):
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
    for payload, sender in ((declined(), PROCURATORATE), (cancelled(), AMR), (appealed(), COURT)):
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
