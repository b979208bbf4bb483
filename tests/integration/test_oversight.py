"""Oversight of cases penalised but never transferred, on a real nats-server and databases.

flag → suggestion → transfer, and flag → suggestion → overdue (then a late answer).
"""

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest

from contracts.identifiers import Money, new_ulid
from contracts.judicial import JudgmentFinal, JudgmentRendered
from contracts.oversight import CaseFindings, Offence, Offender
from contracts.referrals import ReferralStage, ReferralState
from contracts.subjects import EVENT_STREAM, stored_filter
from services.coordinator.app import CoordinatorService
from services.coordinator.deadlines.store import DeadlineRecord, DeadlineStatus
from services.coordinator.oversight.flow import OversightRecord
from services.enforcement.app import EnforcementService
from services.judicial.app import JudicialService
from services.runtime.bus import FixedClock, StepRefused
from services.runtime.identity import Settings
from services.sdk import Bus, query_case
from tests.integration.conftest import StartBus
from tests.integration.test_referral_kinds import until_state
from tests.integration.wire import publish, signed, to_coordinator, wait_until

pytestmark = pytest.mark.integration


AGENCIES = ("coordinator", "amr-shanghai", "psb-shanghai", "procuratorate-shanghai")
REGULATOR, POLICE, PROCURATORATE = "amr-shanghai", "psb-shanghai", "procuratorate-shanghai"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DEPLOY = Path(__file__).parents[2] / "deploy"
GOODS_2025 = "criminal_threshold.counterfeit_registered_trademark.goods@2025-04-26"
FINDINGS = CaseFindings(
    offence=Offence.COUNTERFEIT_REGISTERED_TRADEMARK,
    offender=Offender.UNIT,
    committed_on=date(2026, 1, 12),
    illegal_business_volume=Money(value=Decimal("360000"), currency="CNY"),
)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def oversight_bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    """The real policy (its rules), with a deadline watcher quick enough for a test."""
    return await start_bus(
        settings, AGENCIES, clock=clock, policy="[referral_deadlines]\nwatch_seconds = 0.2\n"
    )


async def _stream_events(bus: Bus, subject: str) -> list[dict[str, Any]]:
    """Every event on ``subject`` (wildcards allowed), oldest first, as JSON envelopes."""
    nc = await nats.connect(bus.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(EVENT_STREAM, subjects_filter=subject)
        expected = sum((info.state.subjects or {}).values())
        found: list[dict[str, Any]] = []
        if not expected:
            return found
        sub = await js.subscribe(subject, stream=EVENT_STREAM, ordered_consumer=True)
        try:
            while len(found) < expected:
                msg = await sub.next_msg(timeout=5.0)
                found.append(json.loads(msg.data))
        finally:
            await sub.unsubscribe()
        return found
    finally:
        await nc.close()


async def _penalised_and_flagged(bus: Bus) -> tuple[str, str]:
    """A regulator penalises a 360,000 CNY counterfeit case instead of transferring it."""
    regulator = bus.service_as(REGULATOR, EnforcementService)
    case_id = new_ulid()
    async with regulator.unit_of_work() as uow:
        await regulator.open_case(uow, case_id=case_id, local_ref="SH-AMR-9", title="Fakes")
        await regulator.impose_penalty(
            uow,
            case_id,
            illegal_volume=FINDINGS.illegal_business_volume or Money(value=0, currency="CNY"),
            fine=Money(value=Decimal("900000"), currency="CNY"),
            findings=FINDINGS,
        )
    subject = stored_filter("coordinator", PROCURATORATE, "oversight.flagged", key=case_id)

    async def flagged() -> list[dict[str, Any]]:
        return [e for e in await _stream_events(bus, subject) if e["subject"] == case_id]

    async def one_flag() -> bool:
        return len(await flagged()) == 1

    await wait_until(one_flag, what="the coordinator to flag the case to the procuratorate")
    [flag] = await flagged()
    assert flag["data"]["threshold_rule"] == GOODS_2025
    assert flag["data"]["regulator"] == REGULATOR
    assert "法释〔2025〕5号" in flag["data"]["legal_source"]
    return case_id, str(flag["data"]["oversight_id"])


async def _suggest(bus: Bus, case_id: str, oversight_id: str) -> datetime:
    procuratorate = bus.service_as(PROCURATORATE, JudicialService)
    async with procuratorate.unit_of_work() as uow:
        suggestion = await procuratorate.suggest_transfer(
            uow, case_id, oversight_id, regulator=REGULATOR, reason="the sums are criminal"
        )
    assert suggestion.reply_rule == "oversight.reply@2021-09-06"
    # 7 calendar days from Monday 2 March, to the end of the 7th day in Shanghai (UTC+8)
    assert suggestion.reply_by == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    await _until_deadline(bus, oversight_id, DeadlineStatus.PENDING)
    return suggestion.reply_by


async def _oversight(bus: Bus, oversight_id: str) -> OversightRecord | None:
    coordinator = bus.service_as("coordinator", CoordinatorService)
    async with coordinator.database.transaction() as session:
        return await session.get(OversightRecord, oversight_id)


async def _deadline(bus: Bus, oversight_id: str) -> DeadlineRecord | None:
    coordinator = bus.service_as("coordinator", CoordinatorService)
    async with coordinator.database.transaction() as session:
        return await session.get(
            DeadlineRecord, (oversight_id, ReferralStage.OVERSIGHT_REPLY.value)
        )


async def _until_deadline(bus: Bus, oversight_id: str, status: DeadlineStatus) -> None:
    async def reached() -> bool:
        row = await _deadline(bus, oversight_id)
        return row is not None and row.status == status.value

    await wait_until(reached, what=f"the reply deadline to be {status.value}")


async def _overdue_notices(bus: Bus, oversight_id: str) -> list[tuple[str, str]]:
    events = await _stream_events(bus, stored_filter("coordinator", "*", "referral.overdue"))
    return sorted(
        (e["source"], e["data"]["stage"])
        for e in events
        if e["data"]["referral_id"] == oversight_id
    )


async def _timeline_has(bus: Bus, case_id: str, event_type: str) -> bool:
    nc = await nats.connect(bus.nats_url)
    try:
        view = (await query_case(nc, requester="coordinator", case_id=case_id)).case
    finally:
        await nc.close()
    return view is not None and any(e.event_type == event_type for e in view.timeline)


@pytest.mark.timeout(120)
async def test_a_flag_answered_by_a_transfer_closes_the_oversight_and_its_deadline(
    oversight_bus: Bus, clock: FixedClock
) -> None:
    case_id, oversight_id = await _penalised_and_flagged(oversight_bus)
    await _suggest(oversight_bus, case_id, oversight_id)

    regulator = oversight_bus.service_as(REGULATOR, EnforcementService)
    async with regulator.unit_of_work() as uow:
        transfer = await regulator.transfer_on_suspicion(
            uow, case_id, grounds="360,000 CNY of counterfeit goods", findings=FINDINGS
        )
    assert transfer.recipient == POLICE
    issued_subject = stored_filter(REGULATOR, POLICE, "referral.issued")

    async def published() -> bool:
        return len(await _stream_events(oversight_bus, issued_subject)) == 1

    await wait_until(published, what="the transfer on the stream")
    [issued] = await _stream_events(oversight_bus, issued_subject)
    basis = issued["data"]["legal_basis"]
    assert "Decree 310, rev. 2020) art. 3 para. 2 (transfer.on_suspicion@2020-08-07)" in basis
    assert f"threshold {GOODS_2025}" in basis
    await _until_deadline(oversight_bus, oversight_id, DeadlineStatus.MET)
    record = await _oversight(oversight_bus, oversight_id)
    assert record is not None
    assert record.status == "transferred"
    assert record.threshold_rule == GOODS_2025

    clock.advance(timedelta(days=8))  # past the reply deadline: nothing is owed any more
    oversight_bus.service_as("coordinator", CoordinatorService).deadline_watch.wake()
    await asyncio.sleep(1.0)  # five watcher rounds
    assert await _overdue_notices(oversight_bus, oversight_id) == []

    # Decree 310 art. 12: once the police file it, the seized items follow within 3 days.
    with pytest.raises(StepRefused, match="has not filed"):
        async with regulator.unit_of_work() as uow:
            await regulator.hand_over_seized_items(
                uow, transfer.referral_id, inventory=["1,200 shirts"]
            )
    police = oversight_bus.service_as(POLICE, JudicialService)
    async with police.unit_of_work() as uow:
        await police.file_case(uow, transfer.referral_id, local_ref="HU-GONG-1", title="Fakes")
    await until_state(oversight_bus, REGULATOR, transfer.referral_id, ReferralState.ACCEPTED)
    async with regulator.unit_of_work() as uow:
        handed = await regulator.hand_over_seized_items(
            uow, transfer.referral_id, inventory=["1,200 shirts", "2 embroidery machines"]
        )
    assert handed.handover_rule == "transfer.handover@2001-07-09"
    filed_on = (START + timedelta(days=8)).date()  # the clock moved on above
    assert handed.due_by == datetime.combine(
        filed_on + timedelta(days=3), datetime.min.time(), UTC
    ) + timedelta(hours=16)  # the end of the third day in Shanghai

    nc = await nats.connect(oversight_bus.nats_url)
    try:
        await wait_until(
            lambda: _timeline_has(oversight_bus, case_id, "referral.items_handed_over"),
            what="the handover on the shared timeline",
        )
        view = (await query_case(nc, requester=PROCURATORATE, case_id=case_id)).case
    finally:
        await nc.close()
    assert view is not None  # the flag made the procuratorate a party
    types = [entry.event_type for entry in view.timeline]
    assert types.index("oversight.flagged") < types.index("oversight.suggested")
    assert types.index("oversight.suggested") < types.index("referral.issued")


@pytest.mark.timeout(120)
async def test_an_unanswered_suggestion_is_noticed_overdue_once_then_met_late(
    oversight_bus: Bus, clock: FixedClock
) -> None:
    case_id, oversight_id = await _penalised_and_flagged(oversight_bus)
    reply_by = await _suggest(oversight_bus, case_id, oversight_id)

    clock.advance(reply_by - START + timedelta(seconds=1))  # the first overdue moment
    coordinator = oversight_bus.service_as("coordinator", CoordinatorService)
    coordinator.deadline_watch.wake()
    expected = [
        ("/agencies/coordinator", "oversight_reply"),
        ("/agencies/coordinator", "oversight_reply"),
    ]

    async def noticed() -> bool:
        return await _overdue_notices(oversight_bus, oversight_id) == expected

    await wait_until(noticed, what="the overdue reply noticed to procuratorate and regulator")
    recipients = {
        e["data"]["referral_id"]: None
        for e in await _stream_events(
            oversight_bus, stored_filter("coordinator", REGULATOR, "referral.overdue")
        )
    }
    assert oversight_id in recipients

    regulator = oversight_bus.service_as(REGULATOR, EnforcementService)
    async with regulator.unit_of_work() as uow:
        await regulator.answer_oversight(
            uow, case_id, oversight_id, explanation="the goods were parallel imports"
        )

    async def met_late() -> bool:
        row = await _deadline(oversight_bus, oversight_id)
        return row is not None and row.met_late_at is not None

    await wait_until(met_late, what="the late answer recorded on the overdue deadline")
    record = await _oversight(oversight_bus, oversight_id)
    assert record is not None
    assert record.status == "answered"
    coordinator.deadline_watch.wake()
    await asyncio.sleep(0.6)
    assert await _overdue_notices(oversight_bus, oversight_id) == expected  # still once


@pytest.mark.timeout(120)
async def test_a_final_judgment_closes_the_open_oversight_and_its_deadline(
    oversight_bus: Bus, settings: Settings, clock: FixedClock
) -> None:
    case_id, oversight_id = await _penalised_and_flagged(oversight_bus)
    await _suggest(oversight_bus, case_id, oversight_id)
    procuratorate = oversight_bus.service_as(PROCURATORATE, JudicialService)
    async with procuratorate.unit_of_work() as uow:  # a party through the flag
        await procuratorate.prosecute(
            uow, case_id, local_ref="HU-JIAN-1", title="Fakes", court="court-shanghai-ip"
        )
    await wait_until(
        lambda: _timeline_has(oversight_bus, case_id, "case.status_changed"),
        what="the prosecution on the shared timeline",
    )
    court = "court-shanghai-ip"  # no court service runs: it speaks as an outside system would
    nc = await nats.connect(oversight_bus.nats_url)
    try:
        for payload in (
            JudgmentRendered(
                case_id=case_id, court_ref="HU-FA-1", verdict="guilty", rendered_at=clock.now()
            ),
            JudgmentFinal(case_id=case_id, court_ref="HU-FA-1", final_at=clock.now()),
        ):
            envelope = signed(settings, court, payload, case_id=case_id, now=clock.now())
            await publish(nc, to_coordinator(court, payload.event_type, case_id), envelope)
    finally:
        await nc.close()

    await _until_deadline(oversight_bus, oversight_id, DeadlineStatus.ENDED)
    record = await _oversight(oversight_bus, oversight_id)
    assert record is not None
    assert record.status == "closed"
    assert await _timeline_has(oversight_bus, case_id, "judgment.final")
