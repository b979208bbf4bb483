"""Extensions and clock stops against the deadline table (SQLite and PostgreSQL): what the
rule allows moves the deadline, what it does not is refused with the reason."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.identifiers import new_ulid
from contracts.referral_clocks import (
    ClockStopGround,
    ReferralClockResumed,
    ReferralClockStopped,
    ReferralExtended,
)
from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.coordinator.deadlines.clock_steps import ClockStep, apply_clock_step
from services.coordinator.deadlines.rules import DeadlineStepRefused, deadlines_opened
from services.coordinator.deadlines.store import (
    DeadlineRecord,
    DeadlineStatus,
    ReferralClocks,
    recompute,
)
from services.runtime.law import (
    CalendarPolicy,
    RuleBook,
    load_policy,
    policy_calendar,
    policy_section,
)
from services.runtime.storage import Database

pytestmark = pytest.mark.integration

POLICY = load_policy(Path(__file__).parents[2] / "deploy" / "policy.toml")
RULES = RuleBook.from_policy(POLICY)
CALENDAR = policy_calendar(POLICY)
START = datetime(2026, 3, 30, 2, 0, tzinfo=UTC)  # Monday 30 March
DECIDE = ReferralStage.DECIDE


async def _open(database: Database, kind: ReferralKind) -> str:
    referral_id = new_ulid()
    async with database.transaction() as session:
        await ReferralClocks(session).open(
            referral_id=referral_id,
            case_id=new_ulid(),
            kind=kind,
            sender="customs-shanghai",
            recipient="amr-shanghai",
            supervisor=None,
            started_at=START,
            deadlines=deadlines_opened(kind, "referral.issued", START, RULES, CALENDAR),
        )
    return referral_id


async def _step(
    database: Database, step: ClockStep, kind: ReferralKind, at: datetime
) -> DeadlineRecord:
    async with database.transaction() as session:
        return await apply_clock_step(
            session, step, kind=kind, at=at, rules=RULES, calendar=CALENDAR
        )


def _stop(referral_id: str, ground: ClockStopGround) -> ReferralClockStopped:
    return ReferralClockStopped(
        referral_id=referral_id, stage=DECIDE, ground=ground, reason="sent for appraisal"
    )


def _resume(referral_id: str) -> ReferralClockResumed:
    return ReferralClockResumed(referral_id=referral_id, stage=DECIDE)


def _extend(referral_id: str, stage: ReferralStage = DECIDE) -> ReferralExtended:
    return ReferralExtended(referral_id=referral_id, stage=stage, reason="complex case")


async def test_the_police_extend_a_transfer_review_to_10_30_and_60_days_and_no_further(
    database: Database,
) -> None:
    referral_id = await _open(database, ReferralKind.ADMIN_TO_CRIMINAL)
    dues = []
    for _ in range(3):
        row = await _step(database, _extend(referral_id), ReferralKind.ADMIN_TO_CRIMINAL, START)
        dues.append(row.due_at)
    # 10 days: 9 April; 30 days: 29 April; 60 days: 29 May (last days all working days)
    assert dues == [
        datetime(2026, 4, 9, 16, 0, tzinfo=UTC),
        datetime(2026, 4, 29, 16, 0, tzinfo=UTC),
        datetime(2026, 5, 29, 16, 0, tzinfo=UTC),
    ]
    with pytest.raises(DeadlineStepRefused, match=r"longest lawful period \(60 calendar days\)"):
        await _step(database, _extend(referral_id), ReferralKind.ADMIN_TO_CRIMINAL, START)


@pytest.mark.parametrize(
    ("kind", "step", "message"),
    [
        # the police's review has no rule that stops its clock
        (ReferralKind.ADMIN_TO_CRIMINAL, "stop", "no rule stops the clock"),
        # the acknowledgement cannot be extended
        (ReferralKind.CUSTOMS_TO_ENFORCEMENT, "extend_ack", "no rule allows extending"),
        (ReferralKind.CUSTOMS_TO_ENFORCEMENT, "resume", "is not stopped"),
    ],
)
async def test_a_step_no_rule_allows_is_refused_with_the_reason(
    database: Database, kind: ReferralKind, step: str, message: str
) -> None:
    referral_id = await _open(database, kind)
    steps: dict[str, ClockStep] = {
        "stop": _stop(referral_id, ClockStopGround.APPRAISAL),
        "extend_ack": _extend(referral_id, ReferralStage.ACKNOWLEDGE),
        "resume": _resume(referral_id),
    }
    with pytest.raises(DeadlineStepRefused, match=message):
        await _step(database, steps[step], kind, START)


async def test_a_stop_twice_and_a_step_on_a_met_stage_are_refused(database: Database) -> None:
    kind = ReferralKind.CUSTOMS_TO_ENFORCEMENT
    referral_id = await _open(database, kind)
    await _step(database, _stop(referral_id, ClockStopGround.IDENTIFICATION), kind, START)
    with pytest.raises(DeadlineStepRefused, match="already stopped"):
        await _step(database, _stop(referral_id, ClockStopGround.TESTING), kind, START)
    async with database.transaction() as session:
        await ReferralClocks(session).settle(referral_id, ReferralState.ACCEPTED, START)
    with pytest.raises(DeadlineStepRefused, match=r"no open decide deadline \(met\)"):
        await _step(database, _extend(referral_id), kind, START)


async def test_an_extension_while_stopped_counts_from_the_same_start_on_resumption(
    database: Database,
) -> None:
    kind = ReferralKind.CUSTOMS_TO_ENFORCEMENT
    referral_id = await _open(database, kind)
    stopped_at = START + timedelta(days=3)  # Thursday 2 April
    row = await _step(database, _stop(referral_id, ClockStopGround.APPRAISAL), kind, stopped_at)
    assert (row.status, row.due_at) == (DeadlineStatus.STOPPED.value, None)
    row = await _step(database, _extend(referral_id), kind, stopped_at)
    assert (row.status, row.due_at, row.amount) == (DeadlineStatus.STOPPED.value, None, 30)
    row = await _step(database, _resume(referral_id), kind, START + timedelta(days=10))
    # 30 working days plus 4 stood still (3, 7, 8, 9 April) from 30 March: 20 May
    assert row.status == DeadlineStatus.PENDING.value
    assert row.excluded == 4
    assert row.due_at == datetime(2026, 5, 20, 16, 0, tzinfo=UTC)
    assert row.rule_version == (
        "referral.decide.customs_to_enforcement@2021-07-15 + "
        "referral_clock_stop.decide.customs_to_enforcement@2021-07-15 + "
        "referral_extension.decide.customs_to_enforcement@2021-07-15"
    )


async def test_a_stop_resumed_past_the_calendar_is_counted_once_the_year_is_added(
    database: Database,
) -> None:
    kind = ReferralKind.CUSTOMS_TO_ENFORCEMENT
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 1 December
    referral_id = new_ulid()
    async with database.transaction() as session:
        await ReferralClocks(session).open(
            referral_id=referral_id,
            case_id=new_ulid(),
            kind=kind,
            sender="customs-shanghai",
            recipient="amr-shanghai",
            supervisor=None,
            started_at=start,
            deadlines=deadlines_opened(kind, "referral.issued", start, RULES, CALENDAR),
        )
    stop = _stop(referral_id, ClockStopGround.APPRAISAL)
    await _step(database, stop, kind, datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    row = await _step(database, _resume(referral_id), kind, datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    assert (row.status, row.due_at) == (DeadlineStatus.NOT_COMPUTABLE.value, None)
    assert row.problem is not None
    assert "2027-01-01 is outside it" in row.problem
    with pytest.raises(DeadlineStepRefused, match="not counted yet"):
        await _step(database, stop, kind, datetime(2027, 1, 6, 2, 0, tzinfo=UTC))

    # an operator adds 2027 (here a made-up year with New Year's Day off only) and restarts
    with_2027 = CalendarPolicy.model_validate(
        {
            "year": [
                *[table.model_dump() for table in policy_section(
                    POLICY, "calendar", CalendarPolicy
                ).year],
                {"year": 2027, "source": "a test notice (not the real one)",
                 "holidays": ["2027-01-01"]},
            ]
        }
    ).calendar()  # fmt: skip
    async with database.transaction() as session:
        healed = await session.get(DeadlineRecord, (referral_id, DECIDE.value))
        assert healed is not None
        recompute(healed, with_2027)
    # stood still: 4–31 December (20 working days) and 4–5 January 2027 (2): 22 + 15 = 37
    # working days from 1 December: 2–31 December is 22, then 15 more in 2027 → 22 January
    assert healed.excluded == 22
    assert healed.status == DeadlineStatus.PENDING.value
    assert healed.due_at == datetime(2027, 1, 22, 16, 0, tzinfo=UTC)
