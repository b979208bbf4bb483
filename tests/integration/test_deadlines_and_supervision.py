"""Deadlines survive a coordinator restart; refusals reach the sender; supervision runs."""

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest

from contracts.envelope import RejectReason, publish_subject
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralConcluded, ReferralKind, ReferralState
from contracts.subjects import EVENT_STREAM, parse_event_subject, stored_filter
from services.judicial.app import JudicialService
from services.runtime.bus import DLQ_REASON_HEADER, FixedClock, StepRefused, last_stored
from services.runtime.identity import Settings
from services.sdk import AgencyAdapter, Bus, query_referrals
from tests.integration.conftest import StartBus
from tests.integration.test_referral_kinds import ledger, until_state
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

AGENCIES = ("coordinator", "amr-shanghai", "psb-shanghai", "procuratorate-shanghai")
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
POLICY = """
[referral_deadlines]
watch_seconds = 0.2
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def linkage_bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    """Regulator, police and procuratorate on the default deadlines, in business time."""
    return await start_bus(settings, AGENCIES, clock=clock, policy=POLICY)


async def _transfer(bus: Bus) -> tuple[str, str]:
    regulator = bus.service_as("amr-shanghai", AgencyAdapter)
    case_id = new_ulid()
    async with regulator.unit_of_work() as uow:
        await regulator.open_case(uow, case_id=case_id, local_ref="SH-AMR-1", title="Fakes")
        referral = await regulator.issue_referral(
            uow,
            case_id=case_id,
            to="psb-shanghai",
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason="illegal business volume 360,000 CNY",
            legal_basis="Decree 310 art. 3",
            summary="STRIDE shoes",
        )
    await until_state(bus, "amr-shanghai", referral.referral_id, ReferralState.ACKNOWLEDGED)
    return case_id, referral.referral_id


async def _overdue_notices(bus: Bus) -> dict[str, int]:
    """Overdue notices in the stream, per recipient (counted by the server, not by us)."""
    nc = await nats.connect(bus.nats_url)
    try:
        info = await nc.jetstream().stream_info(
            EVENT_STREAM, subjects_filter=stored_filter("coordinator", "*", "referral.overdue")
        )
    finally:
        await nc.close()
    notices: dict[str, int] = {}
    for subject, n in (info.state.subjects or {}).items():
        recipient = parse_event_subject(subject).recipient
        notices[recipient] = notices.get(recipient, 0) + n
    return notices


@pytest.mark.timeout(120)
async def test_a_restarted_coordinator_sends_each_overdue_notice_exactly_once(
    linkage_bus: Bus, clock: FixedClock
) -> None:
    _, referral_id = await _transfer(linkage_bus)
    await linkage_bus.services["coordinator"].stop()  # down between issue and deadline

    clock.advance(timedelta(days=4))  # admin_to_criminal: decided within 3 days
    await linkage_bus.start_service("coordinator")
    expected = {"amr-shanghai": 1, "psb-shanghai": 1, "procuratorate-shanghai": 1}

    async def three_notices() -> bool:
        return await _overdue_notices(linkage_bus) == expected

    await wait_until(three_notices, what="one overdue notice per party")

    await linkage_bus.services["coordinator"].stop()  # and once more, after the notices
    await linkage_bus.start_service("coordinator")
    clock.advance(timedelta(days=30))
    await asyncio.sleep(1.0)  # five watcher rounds
    assert await _overdue_notices(linkage_bus) == expected
    for party in expected:
        nc = await nats.connect(linkage_bus.nats_url)
        try:
            reply = await query_referrals(nc, requester=party, overdue_only=True)
        finally:
            await nc.close()
        [late] = [d for d in reply.deadlines if d.referral_id == referral_id]
        assert late.stage.value == "decide"
        assert late.late_party == "psb-shanghai"
        assert late.late_by_seconds is not None
        assert late.late_by_seconds > 30 * 86400
    shown = await _ipbus_referrals_overdue(linkage_bus, "procuratorate-shanghai")
    assert referral_id in shown
    assert "psb-shanghai" in shown
    assert "decide (3 calendar days)" in shown
    assert "none" in await _ipbus_referrals_overdue(linkage_bus, "psb-guangdong")


async def _ipbus_referrals_overdue(bus: Bus, requester: str) -> str:
    """``ipbus referrals --overdue --as REQUESTER`` as a user runs it."""
    command = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("ipbus")),
        "referrals",
        "--overdue",
        "--as",
        requester,
        env={**os.environ, "IPBUS_NATS_URL": bus.nats_url, "COLUMNS": "400"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(command.communicate(), 30)
    assert command.returncode == 0, out.decode()
    return out.decode()


async def test_the_referrals_query_is_need_to_know(linkage_bus: Bus) -> None:
    _, referral_id = await _transfer(linkage_bus)
    nc = await nats.connect(linkage_bus.nats_url)
    try:

        async def both_stages_known() -> bool:
            reply = await query_referrals(nc, requester="coordinator")
            return len([d for d in reply.deadlines if d.referral_id == referral_id]) == 2

        await wait_until(both_stages_known, what="the coordinator to open the deadlines")
        for party in ("amr-shanghai", "psb-shanghai", "procuratorate-shanghai", "coordinator"):
            reply = await query_referrals(nc, requester=party)
            stages = {d.stage.value for d in reply.deadlines if d.referral_id == referral_id}
            assert stages == {"acknowledge", "decide"}, party
        stranger = await query_referrals(nc, requester="psb-guangdong")
        assert stranger.deadlines == []
        assert stranger.error is None
        bad = await nc.request("ipbus.query.amr-shanghai.referrals", b'{"overdue": 1}', timeout=5)
        assert b"bad query" in bad.data
    finally:
        await nc.close()


async def test_an_illegal_step_is_reported_back_to_its_sender_once(
    linkage_bus: Bus, clock: FixedClock
) -> None:
    case_id, referral_id = await _transfer(linkage_bus)
    nc = await nats.connect(linkage_bus.nats_url)
    try:
        bogus = signed(
            linkage_bus.settings,
            "psb-shanghai",
            ReferralConcluded(referral_id=referral_id, outcome="never accepted"),
            case_id=case_id,
            now=clock.now(),
        )
        subject = publish_subject(bogus, "amr-shanghai")
        await publish(nc, subject, bogus)
        await publish(nc, subject, bogus, msg_id=new_ulid())  # a redelivery-like duplicate
        letters = await dead_letters(nc, at_least=4)
        assert {(m.headers or {})[DLQ_REASON_HEADER] for m in letters} == {
            RejectReason.ILLEGAL_STEP.value
        }
        js = nc.jetstream()

        refused = stored_filter(event_type="referral.refused")

        async def reported() -> bool:
            info = await js.stream_info(EVENT_STREAM, subjects_filter=refused)
            return bool(info.state.subjects)

        await wait_until(reported, what="the refusal report")
        await asyncio.sleep(0.5)
        info = await js.stream_info(EVENT_STREAM, subjects_filter=refused)
        [(stored, count)] = (info.state.subjects or {}).items()
        assert count == 1
        route = parse_event_subject(stored)
        assert (route.sender, route.recipient) == ("amr-shanghai", "psb-shanghai")
        msg = await last_stored(js, refused)
        assert msg is not None
        assert msg.data is not None
        assert b'"attempted":"referral.concluded"' in msg.data
        assert bogus.id.encode() in msg.data
        record = await ledger(linkage_bus, "amr-shanghai", referral_id)
        assert record is not None
        assert record.state == ReferralState.ACKNOWLEDGED.value
    finally:
        await nc.close()


async def test_a_refusal_to_file_is_reconsidered_then_supervised_until_filed(
    linkage_bus: Bus,
) -> None:
    _, referral_id = await _transfer(linkage_bus)
    regulator = linkage_bus.service_as("amr-shanghai", AgencyAdapter)
    police = linkage_bus.service_as("psb-shanghai", AgencyAdapter)
    procuratorate = linkage_bus.service_as("procuratorate-shanghai", AgencyAdapter)
    S = ReferralState

    # each actor acts once its own ledger shows the state it acts on (consumers run apart)
    async with police.unit_of_work() as uow:
        await police.decline_referral(uow, referral_id, reason="no crime")
    await until_state(linkage_bus, "procuratorate-shanghai", referral_id, S.DECLINED)
    await until_state(linkage_bus, "amr-shanghai", referral_id, S.DECLINED)
    async with regulator.unit_of_work() as uow:
        await regulator.request_reconsideration(uow, referral_id, reason="volume is criminal")
    await until_state(linkage_bus, "psb-shanghai", referral_id, S.RECONSIDERING)
    async with police.unit_of_work() as uow:
        await police.uphold_decline(uow, referral_id, reason="still no crime")
    await until_state(linkage_bus, "amr-shanghai", referral_id, S.DECLINE_UPHELD)
    async with regulator.unit_of_work() as uow:  # the sender may open supervision too
        await regulator.open_supervision(uow, referral_id, reason="please supervise")
    await until_state(linkage_bus, "procuratorate-shanghai", referral_id, S.SUPERVISED)
    await until_state(linkage_bus, "psb-shanghai", referral_id, S.SUPERVISED)
    async with police.unit_of_work() as uow:
        await police.explain_refusal(uow, referral_id, explanation="volume unproven")
    await until_state(linkage_bus, "amr-shanghai", referral_id, S.EXPLAINED)
    await until_state(linkage_bus, "procuratorate-shanghai", referral_id, S.EXPLAINED)
    async with procuratorate.unit_of_work() as uow:
        await procuratorate.notify_filing(uow, referral_id, reason="volume is proven")
    await until_state(linkage_bus, "psb-shanghai", referral_id, S.FILING_NOTIFIED)
    await until_state(linkage_bus, "amr-shanghai", referral_id, S.FILING_NOTIFIED)
    async with police.unit_of_work() as uow:
        await police.accept_referral(uow, referral_id, local_ref="HU-GONG-1")
    for party in ("amr-shanghai", "psb-shanghai", "procuratorate-shanghai"):
        await until_state(linkage_bus, party, referral_id, S.ACCEPTED)

    nc = await nats.connect(linkage_bus.nats_url)
    try:

        async def all_stages_met() -> bool:
            reply = await query_referrals(nc, requester="procuratorate-shanghai")
            mine = {
                d.stage.value: d.status for d in reply.deadlines if d.referral_id == referral_id
            }
            return mine == {
                "acknowledge": "met",
                "decide": "met",
                "reconsider": "met",
                "explain": "met",
                "file": "met",
            }

        await wait_until(all_stages_met, what="every stage's deadline to be met")
    finally:
        await nc.close()


async def test_the_police_return_a_non_criminal_case_to_the_regulator(linkage_bus: Bus) -> None:
    case_id, referral_id = await _transfer(linkage_bus)
    police = linkage_bus.services["psb-shanghai"]
    procuratorate = linkage_bus.services["procuratorate-shanghai"]
    assert isinstance(police, JudicialService)
    assert isinstance(procuratorate, JudicialService)
    with pytest.raises(StepRefused, match="file is not a power of a procuratorate"):
        async with procuratorate.unit_of_work() as uow:
            await procuratorate.file_case(uow, referral_id, local_ref="X", title="X")
    async with police.unit_of_work() as uow:
        await police.decline_referral(uow, referral_id, reason="sums below the threshold")
        returned = await police.return_non_criminal(
            uow, case_id, reason="not a crime: administrative penalty due", summary="fakes"
        )
    assert returned.recipient == "amr-shanghai"
    assert returned.kind == ReferralKind.CRIMINAL_TO_ADMIN.value
    await until_state(linkage_bus, "psb-shanghai", returned.referral_id, ReferralState.ACKNOWLEDGED)
    await until_state(linkage_bus, "amr-shanghai", referral_id, ReferralState.DECLINED)


async def test_a_late_request_for_reconsideration_is_refused_by_the_sender_s_desk(
    linkage_bus: Bus, clock: FixedClock
) -> None:
    _, referral_id = await _transfer(linkage_bus)
    police = linkage_bus.service_as("psb-shanghai", AgencyAdapter)
    regulator = linkage_bus.service_as("amr-shanghai", AgencyAdapter)
    async with police.unit_of_work() as uow:
        await police.decline_referral(uow, referral_id, reason="no crime")
    await until_state(linkage_bus, "amr-shanghai", referral_id, ReferralState.DECLINED)
    clock.advance(timedelta(days=5))
    with pytest.raises(StepRefused, match="within 3 calendar days"):
        async with regulator.unit_of_work() as uow:
            await regulator.request_reconsideration(uow, referral_id, reason="too late")
    record = await ledger(linkage_bus, "amr-shanghai", referral_id)
    assert record is not None
    assert record.state == ReferralState.DECLINED.value
