"""Lawful extensions, clock stops and the calendar's end, on a real bus and coordinator.

An extended or stopped review does not show as overdue; an extension past the rule is
dead-lettered with the reason; a deadline the calendar cannot compute is recorded as such
and counted, and the coordinator carries on with the next event.
"""

from datetime import UTC, datetime, timedelta

import nats
import pytest

from contracts.envelope import RejectReason
from contracts.identifiers import new_ulid
from contracts.referral_clocks import ClockStopGround
from contracts.referral_queries import DeadlineView
from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.coordinator.app import CoordinatorService
from services.runtime.bus import (
    DLQ_CONSUMER_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_REASON_HEADER,
    FixedClock,
)
from services.runtime.identity import Settings
from services.sdk import AgencyAdapter, Bus, query_referrals
from tests.integration.conftest import StartBus
from tests.integration.test_referral_kinds import until_state
from tests.integration.wire import dead_letters, wait_until

pytestmark = pytest.mark.integration

AGENCIES = ("coordinator", "customs-shanghai", "amr-shanghai", "psb-shanghai")
START = datetime(2026, 3, 30, 2, 0, tzinfo=UTC)  # Monday 30 March, 10:00 in Shanghai
POLICY = """
[referral_deadlines]
watch_seconds = 0.2
"""
DECIDE = ReferralStage.DECIDE


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    return await start_bus(settings, AGENCIES, clock=clock, policy=POLICY)


async def _refer(bus: Bus, kind: ReferralKind, to: str) -> str:
    sender = bus.service_as("customs-shanghai", AgencyAdapter)
    case_id = new_ulid()
    async with sender.unit_of_work() as uow:
        await sender.open_case(uow, case_id=case_id, local_ref="SH-CUS-1", title="Fakes")
        referral = await sender.issue_referral(
            uow,
            case_id=case_id,
            to=to,
            kind=kind,
            reason="suspected infringement",
            legal_basis="Decree 395 art. 27",
            summary="STRIDE shoes",
        )
    await until_state(bus, "customs-shanghai", referral.referral_id, ReferralState.ACKNOWLEDGED)
    return referral.referral_id


async def _deadline(bus: Bus, referral_id: str, stage: ReferralStage) -> DeadlineView | None:
    nc = await nats.connect(bus.nats_url)
    try:
        reply = await query_referrals(nc, requester="coordinator")
    finally:
        await nc.close()
    found = [d for d in reply.deadlines if d.referral_id == referral_id and d.stage == stage]
    return found[0] if found else None


async def _until(bus: Bus, referral_id: str, what: str, **wanted: object) -> DeadlineView:
    async def reached() -> bool:
        seen = await _deadline(bus, referral_id, DECIDE)
        return seen is not None and all(getattr(seen, k) == v for k, v in wanted.items())

    await wait_until(reached, what=what)
    found = await _deadline(bus, referral_id, DECIDE)
    assert found is not None
    return found


@pytest.mark.timeout(120)
async def test_a_regulator_extends_its_check_once_and_a_second_extension_is_refused(
    bus: Bus, clock: FixedClock
) -> None:
    referral_id = await _refer(bus, ReferralKind.CUSTOMS_TO_ENFORCEMENT, "amr-shanghai")
    base = await _until(bus, referral_id, "the check's deadline", status="pending")
    assert base.due_at == utc("2026-04-21 16:00")  # 15 working days, across Qingming
    assert base.rule_version == "referral.decide.customs_to_enforcement@2021-07-15"

    regulator = bus.service_as("amr-shanghai", AgencyAdapter)
    async with regulator.unit_of_work() as uow:
        await regulator.extend_deadline(
            uow, referral_id, stage=DECIDE, reason="special circumstances", approved_by="head"
        )
    extended = await _until(bus, referral_id, "the extension", due_at=utc("2026-05-14 16:00"))
    assert extended.period == "30 working days (extended)"
    assert extended.rule_version == (
        "referral.decide.customs_to_enforcement@2021-07-15 + "
        "referral_extension.decide.customs_to_enforcement@2021-07-15"
    )
    clock.advance(timedelta(days=25))  # past the first 15 working days, not the 30
    await _until(bus, referral_id, "no overdue after an extension", status="pending")

    async with regulator.unit_of_work() as uow:
        await regulator.extend_deadline(uow, referral_id, stage=DECIDE, reason="once more")
    nc = await nats.connect(bus.nats_url)
    try:
        letters = await dead_letters(nc, at_least=1)
    finally:
        await nc.close()
    [refused] = [
        m
        for m in letters
        if "longest lawful period" in (m.headers or {}).get(DLQ_DETAIL_HEADER, "")
    ]
    headers = refused.headers or {}
    assert headers[DLQ_REASON_HEADER] == RejectReason.ILLEGAL_STEP.value
    assert headers[DLQ_CONSUMER_HEADER] == "coordinator"
    still = await _deadline(bus, referral_id, DECIDE)
    assert still is not None
    assert still.due_at == utc("2026-05-14 16:00")


@pytest.mark.timeout(120)
async def test_appraisal_time_stops_the_clock_and_is_not_counted(
    bus: Bus, clock: FixedClock
) -> None:
    referral_id = await _refer(bus, ReferralKind.CUSTOMS_TO_ENFORCEMENT, "amr-shanghai")
    await _until(bus, referral_id, "the check's deadline", status="pending")
    regulator = bus.service_as("amr-shanghai", AgencyAdapter)
    clock.advance(timedelta(days=3))  # Thursday 2 April
    async with regulator.unit_of_work() as uow:
        await regulator.stop_clock(
            uow,
            referral_id,
            stage=DECIDE,
            ground=ClockStopGround.APPRAISAL,
            reason="goods sent for appraisal",
        )
    stopped = await _until(bus, referral_id, "the clock to stop", status="stopped")
    assert stopped.due_at is None

    clock.advance(timedelta(days=30))  # well past the unstopped due time (21 April)
    coordinator = bus.services["coordinator"]
    assert isinstance(coordinator, CoordinatorService)
    assert await coordinator.deadline_watch.check_once() == 0

    clock.advance(datetime(2026, 4, 9, 2, 0, tzinfo=UTC) - clock.now())  # back: 9 April
    async with regulator.unit_of_work() as uow:
        await regulator.resume_clock(uow, referral_id, stage=DECIDE, note="appraisal received")
    # 4 working days stood still (3, 7, 8, 9 April): 19 working days from 30 March
    resumed = await _until(bus, referral_id, "the clock to resume", status="pending")
    assert resumed.due_at == utc("2026-04-27 16:00")


@pytest.mark.timeout(120)
async def test_a_deadline_past_the_calendar_is_recorded_not_computable_and_the_bus_goes_on(
    bus: Bus, clock: FixedClock
) -> None:
    clock.advance(datetime(2026, 12, 30, 2, 0, tzinfo=UTC) - START)
    referral_id = await _refer(bus, ReferralKind.CUSTOMS_TO_CRIMINAL, "psb-shanghai")
    refused = await _until(bus, referral_id, "the refused deadline", status="not_computable")
    assert refused.due_at is None
    assert refused.problem is not None
    assert "2027-01-02 is outside it" in refused.problem
    assert refused.rule_version == "referral.decide.customs_to_criminal@2020-08-07"

    ack = await _deadline(bus, referral_id, ReferralStage.ACKNOWLEDGE)
    assert ack is not None
    assert ack.status == "met"  # the receipt after it was applied: the consumer goes on
    coordinator = bus.services["coordinator"]
    assert isinstance(coordinator, CoordinatorService)
    counted = coordinator.metrics.families.calendar_not_covered.labels(
        "coordinator", "referral.decide"
    )
    assert counted._value.get() == 1
    clock.advance(timedelta(days=400))
    assert await coordinator.deadline_watch.check_once() == 0  # never declared overdue

    police = bus.service_as("psb-shanghai", AgencyAdapter)
    async with police.unit_of_work() as uow:
        await police.accept_referral(uow, referral_id, local_ref="HU-GONG-9")
    await _until(bus, referral_id, "the refused deadline to be met", status="met")
