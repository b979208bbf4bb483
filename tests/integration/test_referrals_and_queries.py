"""Referrals across agencies and need-to-know queries, on the real bus."""

import asyncio
import os
import sys
from pathlib import Path

import nats
import pytest

from contracts.envelope import RejectReason, publish_subject
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralConcluded, ReferralKind, ReferralState
from services.cli.demo import _detention
from services.customs.app import CustomsService
from services.enforcement.app import EnforcementService
from services.runtime.bus import DLQ_CONSUMER_HEADER, DLQ_DETAIL_HEADER, DLQ_REASON_HEADER
from services.sdk import Bus, ReferralRecord, query_case
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration


async def _referred_case(bus: Bus) -> tuple[str, str]:
    customs = bus.services["customs-shanghai"]
    assert isinstance(customs, CustomsService)
    async with customs.unit_of_work() as uow:
        detention = await customs.detain_goods(uow, _detention())
        referral = await customs.issue_referral(
            uow,
            case_id=detention.case_id,
            to="amr-shanghai",
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="trademark infringement",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="1,200 pairs of shoes",
        )
    return detention.case_id, referral.referral_id


async def _ledger(bus: Bus, agency: str, referral_id: str) -> ReferralRecord | None:
    async with bus.services[agency].database.transaction() as session:
        return await session.get(ReferralRecord, referral_id)


async def test_the_recipient_acknowledges_a_referral_once_it_is_stored(bus: Bus) -> None:
    case_id, referral_id = await _referred_case(bus)

    async def acknowledged_at_sender() -> bool:
        record = await _ledger(bus, "customs-shanghai", referral_id)
        return record is not None and record.state == ReferralState.ACKNOWLEDGED.value

    await wait_until(acknowledged_at_sender, what="the receipt to reach customs")
    received = await _ledger(bus, "amr-shanghai", referral_id)
    sent = await _ledger(bus, "customs-shanghai", referral_id)
    assert received is not None
    assert sent is not None
    assert received.role == "recipient"
    assert received.case_id == case_id
    assert sent.receipt == received.receipt
    assert sent.receipt is not None
    assert sent.receipt.startswith("AMR-SHANGHAI-RCPT-")


async def test_a_referral_step_out_of_order_is_refused_everywhere_and_changes_nothing(
    bus: Bus,
) -> None:
    case_id, referral_id = await _referred_case(bus)
    nc = await nats.connect(bus.nats_url)
    try:

        async def acknowledged() -> bool:
            reply = await query_case(nc, requester="amr-shanghai", case_id=case_id)
            return (
                reply.case is not None
                and reply.case.referrals[0].state is ReferralState.ACKNOWLEDGED
            )

        await wait_until(acknowledged, what="the acknowledgement")
        # concluded without being accepted, sent by the regulator's own key
        concluded = signed(
            bus.settings,
            "amr-shanghai",
            ReferralConcluded(referral_id=referral_id, outcome="done"),
            case_id=case_id,
        )
        await publish(nc, publish_subject(concluded, "customs-shanghai"), concluded)
        letters = await dead_letters(nc, at_least=2)
        by_consumer = {(m.headers or {})[DLQ_CONSUMER_HEADER]: m.headers or {} for m in letters}
        assert set(by_consumer) == {"coordinator", "agency-customs-shanghai"}
        for headers in by_consumer.values():
            assert headers[DLQ_REASON_HEADER] == RejectReason.ILLEGAL_STEP.value
            assert "not allowed from state acknowledged" in headers[DLQ_DETAIL_HEADER]
        reply = await query_case(nc, requester="customs-shanghai", case_id=case_id)
        assert reply.case is not None
        assert reply.case.referrals[0].state is ReferralState.ACKNOWLEDGED
        assert "referral.concluded" not in [e.event_type for e in reply.case.timeline]
        record = await _ledger(bus, "customs-shanghai", referral_id)
        assert record is not None
        assert record.state == ReferralState.ACKNOWLEDGED.value
    finally:
        await nc.close()


async def test_an_officer_cannot_take_a_step_the_state_machine_forbids(bus: Bus) -> None:
    _, referral_id = await _referred_case(bus)
    regulator = bus.services["amr-shanghai"]
    assert isinstance(regulator, EnforcementService)

    async def received() -> bool:
        return await _ledger(bus, "amr-shanghai", referral_id) is not None

    await wait_until(received, what="the referral to arrive")
    from services.runtime.bus import StepRefused

    with pytest.raises(StepRefused, match="not allowed from state acknowledged"):
        async with regulator.unit_of_work() as uow:
            await regulator.conclude_referral(uow, referral_id, outcome="too early")
    record = await _ledger(bus, "amr-shanghai", referral_id)
    assert record is not None
    assert record.state == ReferralState.ACKNOWLEDGED.value


async def test_only_agencies_party_to_a_case_can_query_it(bus: Bus) -> None:
    case_id, _ = await _referred_case(bus)
    nc = await nats.connect(bus.nats_url)
    try:

        async def known() -> bool:
            reply = await query_case(nc, requester="amr-shanghai", case_id=case_id)
            return reply.case is not None and len(reply.case.timeline) >= 3

        await wait_until(known, what="the case to reach the coordinator")
        for party in ("customs-shanghai", "amr-shanghai", "coordinator"):
            reply = await query_case(nc, requester=party, case_id=case_id)
            assert reply.case is not None, party
            assert reply.case.case_id == case_id
        stranger = await query_case(nc, requester="customs-guangdong", case_id=case_id)
        missing = await query_case(nc, requester="customs-shanghai", case_id=new_ulid())
        assert stranger.case is None
        assert stranger.error == missing.error  # a stranger learns nothing, not even existence
        bad = await nc.request(
            "ipbus.query.customs-shanghai.case", b'{"case_id": "nope"}', timeout=5
        )
        assert b"bad query" in bad.data
    finally:
        await nc.close()


async def test_ipbus_case_show_prints_the_timeline_and_refuses_strangers(bus: Bus) -> None:
    case_id, _ = await _referred_case(bus)
    nc = await nats.connect(bus.nats_url)
    try:

        async def known() -> bool:
            reply = await query_case(nc, requester="coordinator", case_id=case_id)
            return reply.case is not None and len(reply.case.timeline) >= 4

        await wait_until(known, what="the acknowledgement on the timeline")
    finally:
        await nc.close()
    env = {**os.environ, "IPBUS_NATS_URL": bus.nats_url, "COLUMNS": "400"}
    ipbus = str(Path(sys.executable).with_name("ipbus"))
    shown = await asyncio.create_subprocess_exec(
        ipbus,
        "case",
        "show",
        case_id,
        "--as",
        "customs-shanghai",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(shown.communicate(), 60)
    assert shown.returncode == 0, out.decode()
    text = out.decode()
    for expected in (
        case_id,
        "referral.issued",
        "referral.acknowledged",
        "goods.detained",
        "referred",
        "Deadlines",  # each deadline beside the rule version that set it (issue 15)
        "referral.acknowledge@2026-01-01",
    ):
        assert expected in text
    refused = await asyncio.create_subprocess_exec(
        ipbus,
        "case",
        "show",
        case_id,
        "--as",
        "customs-guangdong",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(refused.communicate(), 60)
    assert refused.returncode == 1
    assert "not found" in out.decode()
