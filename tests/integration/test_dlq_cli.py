"""``ipbus dlq list|show|replay`` as an operator runs it, against the real server.

A receipt (referral.acknowledged) arrives before the referral it acknowledges: both the
coordinator and the customs office refuse it. Once the referral is on the bus, the
operator replays the coordinator's letter only: the coordinator applies it, customs does
not refuse it a second time, and replaying the same letter again publishes nothing.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from contracts.envelope import RejectReason, publish_subject
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralAcknowledged, ReferralIssued, ReferralKind
from contracts.subjects import DLQ_STREAM, EVENT_STREAM, EventSubject, parse_event_subject
from services.runtime.bus import DLQ_REASON_HEADER, read_dead_letters, replay
from services.runtime.identity import Settings, load_registry
from services.sdk import Bus, query_case
from tests.integration.conftest import StartBus
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

CUSTOMS, AMR = "customs-shanghai", "amr-shanghai"


@pytest.fixture
async def small_bus(settings: Settings, start_bus: StartBus) -> Bus:
    """The coordinator and one customs office; the regulator is an outside system."""
    return await start_bus(settings, ["coordinator", CUSTOMS])


async def ipbus(settings: Settings, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
    env["IPBUS_NATS_URL"] = settings.nats_url or ""
    env["IPBUS_DATA_DIR"] = str(settings.data_dir)  # the effective registry letters are checked by
    env["IPBUS_REGISTRY_PATH"] = str(settings.registry_path)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("ipbus")),
        "dlq",
        *args,
        env={**env, "COLUMNS": "250"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


async def _timeline(nc: Client, case_id: str) -> list[str]:
    reply = await query_case(nc, requester=CUSTOMS, case_id=case_id)
    return [line.event_type for line in reply.case.timeline] if reply.case else []


@pytest.mark.timeout(90)
async def test_an_operator_lists_shows_and_replays_a_letter_for_the_consumer_that_refused_it(
    small_bus: Bus,
) -> None:
    settings = small_bus.settings
    case_id, referral_id = new_ulid(), new_ulid()
    receipt = signed(
        settings,
        AMR,
        ReferralAcknowledged(referral_id=referral_id, receipt="AMR-RCPT-1"),
        case_id=case_id,
    )
    nc = await nats.connect(small_bus.nats_url)
    try:
        opened = signed(settings, CUSTOMS, _opened(), case_id=case_id)
        await publish(nc, publish_subject(opened, "coordinator"), opened)
        await publish(nc, publish_subject(receipt, CUSTOMS), receipt)
        await dead_letters(nc, at_least=2)
        js = nc.jetstream()
        letters = {letter.consumer: letter async for letter in read_dead_letters(js)}
        assert set(letters) == {"coordinator", f"agency-{CUSTOMS}"}
        # the coordinator: not yet a party (DESIGN §4a); customs: no such referral yet
        assert letters["coordinator"].reason == RejectReason.NOT_A_PARTY
        assert letters[f"agency-{CUSTOMS}"].reason == RejectReason.ILLEGAL_STEP
        # as read from the stream: filed under the partition of its case
        stored = letters["coordinator"].original_subject
        route = parse_event_subject(stored)
        assert route.partition is not None
        assert route == EventSubject(
            AMR, CUSTOMS, case_id, "referral.acknowledged", route.partition
        )

        code, out = await ipbus(settings, "list")
        assert code == 0, out
        assert "2 dead letter(s)" in out
        assert out.count("illegal_step") == 1
        assert out.count("not_a_party") == 1
        assert stored in out
        code, out = await ipbus(settings, "list", "--consumer", "coordinator")
        assert "1 dead letter(s)" in out

        seq = letters["coordinator"].seq
        code, out = await ipbus(settings, "show", str(seq))
        assert code == 0, out
        assert f"{DLQ_REASON_HEADER}: not_a_party" in out
        assert f"{AMR} is not party to case {case_id}" in out
        assert receipt.id in out  # the original body, whole

        # the fix: the referral the receipt acknowledges reaches the bus
        issued = ReferralIssued(
            referral_id=referral_id,
            case_id=case_id,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="suspected counterfeits",
            legal_basis="art. 27",
            summary="handbags",
        )
        issued_event = signed(settings, CUSTOMS, issued, case_id=case_id)
        await publish(nc, publish_subject(issued_event, AMR), issued_event)
        await wait_until(
            lambda: _has(nc, case_id, "referral.issued"), what="the referral at the coordinator"
        )

        code, out = await ipbus(settings, "replay", "--all", "--consumer", "coordinator")
        assert code == 0, out
        assert "1 dead letter(s) replayed" in out
        await wait_until(
            lambda: _has(nc, case_id, "referral.acknowledged"), what="the replayed receipt"
        )
        steps = {"case.opened", "referral.issued", "referral.acknowledged"}
        # (the refusal report and the coordinator's copies are on the timeline too)
        assert [t for t in await _timeline(nc, case_id) if t in steps] == [
            "case.opened",
            "referral.issued",
            "referral.acknowledged",
        ]
        # customs read the replay too (its recipient) and left it alone: no new letter
        info = await js.consumer_info(EVENT_STREAM, f"agency-{CUSTOMS}")
        assert info.num_pending + info.num_ack_pending == 0
        remaining = [letter async for letter in read_dead_letters(js)]
        assert [letter.consumer for letter in remaining] == [f"agency-{CUSTOMS}"]

        code, out = await ipbus(settings, "replay", str(seq))
        assert code == 1
        assert f"no dead letter {seq}" in out

        # the same letter replayed twice inside the duplicate window is published once
        (left,) = remaining
        registry = load_registry(settings.effective_registry_path)
        first = await replay(js, left, registry, keep=True)
        second = await replay(js, left, registry, keep=True)
        assert first == second

        async def refused_once_more() -> bool:
            return (await js.stream_info(DLQ_STREAM)).state.messages >= 2

        await wait_until(refused_once_more, what="customs to refuse the replay")
        info = await js.consumer_info(EVENT_STREAM, f"agency-{CUSTOMS}")
        assert info.num_pending + info.num_ack_pending == 0
        assert (await js.stream_info(DLQ_STREAM)).state.messages == 2
        refused_again = [letter async for letter in read_dead_letters(js)]
        assert refused_again[-1].headers.get("Ipbus-Replay-Of") == str(left.seq)
        assert json.loads(refused_again[-1].body)["id"] == receipt.id
    finally:
        await nc.close()


async def _has(nc: Client, case_id: str, event_type: str) -> bool:
    return event_type in await _timeline(nc, case_id)
