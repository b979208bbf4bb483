"""Nothing outside the signed body steers processing (DESIGN §4a), on the secured bus.

The bus runs as ``ipbus up`` runs it by default: embedded nats-server with the generated
per-agency permissions and the operator's identity. Each hole of issue 14 part 3 is tried
by an agency with its own valid key, and shown refused:

* an ``Ipbus-Replay-*`` header on live traffic is ignored: the coordinator applies it;
* the operator's replay subject and another consumer's DLQ subject are closed to agencies;
* a letter an agency writes under its own name is refused by ``ipbus dlq replay``;
* a pull request whose reply subject is an event subject stores no copy;
* a query whose reply subject lies in ``ipbus.v1.>`` is not answered there.

A legitimate replay, by the operator, still works end to end.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from contracts.envelope import CONTENT_TYPE, encode_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.queries import CaseQuery
from contracts.referrals import ReferralAcknowledged
from contracts.subjects import (
    COORDINATOR,
    DLQ_STREAM,
    EVENT_STREAM,
    agency_consumer,
    event_subject,
    query_subject,
)
from services.runtime.bus import (
    DLQ_CONSUMER_HEADER,
    DLQ_ORIGINAL_SUBJECT_HEADER,
    DLQ_REASON_HEADER,
    REPLAY_FOR_HEADER,
    REPLAY_SUBJECT_HEADER,
    agency_consumer_spec,
    ensure_consumer,
)
from services.runtime.bus.dlq import replay_subject
from services.runtime.identity import AgencyConnection, Settings, key_path
from services.runtime.server import OPERATOR
from services.sdk import Bus, query_case
from tests.conftest import REGISTRY
from tests.integration.conftest import StartBus
from tests.integration.secured import ErrorLog
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import dead_letters, publish, signed, wait_until
from tests.unit.builders import referral_issued

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
"""The regulator runs no service here: the tests act as it, with its own key."""


@pytest.fixture
async def secured_bus(tmp_path: Path, start_bus: StartBus) -> Bus:
    settings = Settings(data_dir=tmp_path / "var", registry_path=REGISTRY, outbox_poll_seconds=0.2)
    return await start_bus(settings, [COORDINATOR, CUSTOMS])


async def _client(bus: Bus, agency_id: str) -> tuple[Client, ErrorLog]:
    log = ErrorLog()
    client = await nats.connect(
        bus.nats_url,
        name=f"test-{agency_id}",
        error_cb=log.record,
        max_reconnect_attempts=1,
        **bus.connection(agency_id).nats_options(),
    )
    return client, log


async def _operator(bus: Bus) -> Client:
    seed = key_path(bus.settings.keys_dir, OPERATOR)
    return await AgencyConnection(OPERATOR, seed_file=seed).connect(bus.nats_url, name="test")


async def _stored(bus: Bus, stream: str = EVENT_STREAM) -> int:
    """How many messages ``stream`` has ever stored (read as the operator)."""
    operator = await _operator(bus)
    try:
        return int((await operator.jetstream().stream_info(stream)).state.last_seq)
    finally:
        await operator.close()


async def _case_known(bus: Bus, case_id: str, requester: str = CUSTOMS) -> bool:
    client = await bus.connect(requester, name="test-ask")
    try:
        return (await query_case(client, requester=requester, case_id=case_id)).case is not None
    finally:
        await client.close()


async def ipbus(bus: Bus, *args: str) -> tuple[int, str]:
    """``ipbus ARGS`` as the operator runs it: the data dir (its key) and the bus's URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
    env |= {
        "IPBUS_NATS_URL": bus.nats_url,
        "IPBUS_DATA_DIR": str(bus.settings.data_dir),
        "IPBUS_REGISTRY_PATH": str(REGISTRY),
        "COLUMNS": "250",
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("ipbus")),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


@pytest.mark.timeout(60)
async def test_a_replay_header_on_live_traffic_is_ignored_and_the_event_applied(
    secured_bus: Bus,
) -> None:
    """Before: every consumer but the named one acked the event untouched."""
    settings = secured_bus.settings
    customs, _ = await _client(secured_bus, CUSTOMS)
    try:
        opened = signed(settings, CUSTOMS, _opened(), case_id=new_ulid())
        await customs.jetstream().publish(
            publish_subject(opened, COORDINATOR),
            encode_envelope(opened),
            headers={
                "Content-Type": CONTENT_TYPE,
                "Nats-Msg-Id": opened.id,
                REPLAY_FOR_HEADER: f"agency-{REGULATOR}",
                REPLAY_SUBJECT_HEADER: publish_subject(opened, REGULATOR),
            },
        )
        await wait_until(
            lambda: _case_known(secured_bus, opened.subject or ""), what="the case applied"
        )
        assert await _stored(secured_bus, DLQ_STREAM) == 0
    finally:
        await customs.close()


@pytest.mark.timeout(60)
async def test_an_agency_may_neither_replay_nor_write_another_consumers_letters(
    secured_bus: Bus,
) -> None:
    settings = secured_bus.settings
    customs, errors = await _client(secured_bus, CUSTOMS)
    try:
        before = await _stored(secured_bus)
        opened = signed(settings, CUSTOMS, _opened(), case_id=new_ulid())
        original = publish_subject(opened, COORDINATOR)
        await customs.publish(
            replay_subject(original),  # ipbus.v1.operator.coordinator.<key>.case.opened
            encode_envelope(opened),
            headers={REPLAY_SUBJECT_HEADER: original},
        )
        await errors.wait_for('publish to "ipbus.v1.operator.')
        await customs.publish("ipbus.dlq.coordinator.handler_error", encode_envelope(opened))
        await errors.wait_for('publish to "ipbus.dlq.coordinator.')
        assert await _stored(secured_bus) == before
        assert await _stored(secured_bus, DLQ_STREAM) == 0
    finally:
        await customs.close()


@pytest.mark.timeout(120)
async def test_letters_an_agency_writes_under_its_own_name_are_refused_by_replay(
    secured_bus: Bus,
) -> None:
    """The agency may write ``ipbus.dlq.agency-<itself>.>``; replay trusts none of it."""
    settings = secured_bus.settings
    customs, _ = await _client(secured_bus, CUSTOMS)
    mine = f"ipbus.dlq.{agency_consumer(CUSTOMS)}.handler_error"
    receipt = ReferralAcknowledged(referral_id=new_ulid(), receipt="R-1")
    opened = signed(settings, REGULATOR, _opened(), case_id=new_ulid())
    unread = signed(settings, REGULATOR, _opened(), case_id=new_ulid())
    forged = signed(settings, REGULATOR, receipt, case_id=new_ulid(), signer=CUSTOMS)
    forgeries = [
        # claims the coordinator refused it: not the consumer its subject names
        (
            {DLQ_CONSUMER_HEADER: COORDINATOR, DLQ_REASON_HEADER: "handler_error"},
            publish_subject(opened, COORDINATOR),
            opened,
            "was written to",
        ),
        # a subject customs never reads
        (
            {DLQ_CONSUMER_HEADER: agency_consumer(CUSTOMS), DLQ_REASON_HEADER: "handler_error"},
            publish_subject(unread, COORDINATOR),
            unread,
            "does not read",
        ),
        # the regulator's subject, customs' signature
        (
            {DLQ_CONSUMER_HEADER: agency_consumer(CUSTOMS), DLQ_REASON_HEADER: "handler_error"},
            publish_subject(forged, CUSTOMS),
            forged,
            "signature",
        ),
    ]
    try:
        before = await _stored(secured_bus)
        for headers, original, body, _ in forgeries:
            await customs.jetstream().publish(
                mine,
                encode_envelope(body),
                headers={**headers, DLQ_ORIGINAL_SUBJECT_HEADER: original},
            )
        await customs.flush()
        code, out = await ipbus(secured_bus, "dlq", "replay", "--all")
        assert code == 1, out
        assert "0 dead letter(s) replayed" in out
        assert "3 dead letter(s) refused" in out
        for _, _, _, why in forgeries:
            assert why in out, out
        assert "Traceback" not in out
        assert await _stored(secured_bus) == before
    finally:
        await customs.close()


@pytest.mark.timeout(120)
async def test_the_operator_replays_a_real_letter_to_the_consumer_that_refused_it(
    secured_bus: Bus,
) -> None:
    """A receipt before its referral: refused; once the referral is there, replayed."""
    settings = secured_bus.settings
    case_id, referral_id = new_ulid(), new_ulid()
    customs, _ = await _client(secured_bus, CUSTOMS)
    regulator, _ = await _client(secured_bus, REGULATOR)
    try:
        opened = signed(settings, CUSTOMS, _opened(), case_id=case_id)
        await publish(customs, publish_subject(opened, COORDINATOR), opened)
        receipt = ReferralAcknowledged(referral_id=referral_id, receipt="AMR-1")
        early = signed(settings, REGULATOR, receipt, case_id=case_id)
        await publish(regulator, publish_subject(early, CUSTOMS), early)
        operator = await _operator(secured_bus)
        try:
            await dead_letters(operator, at_least=2)
        finally:
            await operator.close()
        issued = signed(settings, CUSTOMS, referral_issued(case_id, referral_id), case_id=case_id)
        await publish(customs, publish_subject(issued, REGULATOR), issued)
        code, out = await ipbus(secured_bus, "dlq", "replay", "--all", "--consumer", COORDINATOR)
        assert code == 0, out
        assert "1 dead letter(s) replayed" in out
        assert "ipbus.v1.operator." not in out  # reported by its original subject

        async def acknowledged() -> bool:
            reply = await query_case(customs, requester=CUSTOMS, case_id=case_id)
            return reply.case is not None and any(
                line.event_type == "referral.acknowledged" for line in reply.case.timeline
            )

        await wait_until(acknowledged, what="the replayed receipt applied by the coordinator")
    finally:
        await customs.close()
        await regulator.close()


@pytest.mark.timeout(60)
async def test_a_pull_request_cannot_have_the_stream_store_a_copy(secured_bus: Bus) -> None:
    """nats-server delivers a pull to any reply subject, and ``IPBUS`` captures what lands
    on a subject it stores (``ipbus.v1.<sender>.<recipient>.<key>.<type>``), under the
    message's stored subject (nats-server 2.15); the copy keeps its ``Nats-Msg-Id``, so
    the stream drops it."""
    settings = secured_bus.settings
    customs, _ = await _client(secured_bus, CUSTOMS)
    regulator, errors = await _client(secured_bus, REGULATOR)
    try:
        await ensure_consumer(regulator.jetstream(), agency_consumer_spec(REGULATOR))
        hub = await secured_bus.connect(COORDINATOR, name="test-hub")
        try:
            window = (await hub.jetstream().stream_info(EVENT_STREAM)).config.duplicate_window
        finally:
            await hub.close()
        assert window is not None
        assert window >= settings.replay_window_s
        issued = referral_issued(new_ulid())
        event = signed(settings, CUSTOMS, issued, case_id=issued.case_id)
        await publish(customs, publish_subject(event, REGULATOR), event)
        before = await _stored(secured_bus)
        await regulator.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.{agency_consumer(REGULATOR)}",
            json.dumps({"batch": 1, "expires": 5_000_000_000}).encode(),
            reply=publish_subject(event, "court-shanghai-ip"),  # a subject IPBUS stores
        )

        async def delivered() -> bool:
            info = await regulator.jetstream().consumer_info(
                EVENT_STREAM, agency_consumer(REGULATOR)
            )
            return bool(info.num_ack_pending == 1)

        await wait_until(delivered, what="JetStream to deliver the pull")
        marker = signed(settings, CUSTOMS, _opened(), case_id=new_ulid())
        await publish(customs, publish_subject(marker, COORDINATOR), marker)
        # the marker is stored; before it, no second message carries the event's id
        hub = await secured_bus.connect(COORDINATOR, name="test-hub")
        try:
            js = hub.jetstream()
            ids = [
                ((await js.get_msg(EVENT_STREAM, seq)).headers or {}).get("Nats-Msg-Id")
                for seq in range(before, await _stored(secured_bus) + 1)
            ]
        finally:
            await hub.close()
        assert ids.count(event.id) == 1, ids
        assert marker.id in ids, ids
        assert not errors.errors
    finally:
        await customs.close()
        await regulator.close()


@pytest.mark.timeout(60)
async def test_a_query_is_never_answered_into_the_stream(secured_bus: Bus) -> None:
    settings = secured_bus.settings
    customs, _ = await _client(secured_bus, CUSTOMS)
    try:
        opened = signed(settings, CUSTOMS, _opened(), case_id=new_ulid())
        await publish(customs, publish_subject(opened, COORDINATOR), opened)
        case_id = opened.subject or ""
        await wait_until(lambda: _case_known(secured_bus, case_id), what="the case applied")
        before = await _stored(secured_bus)
        request = CaseQuery(case_id=case_id).model_dump_json().encode()
        for into in (
            event_subject(COORDINATOR, CUSTOMS, case_id, "case.status_changed"),
            "ipbus.dlq.coordinator.handler_error",
        ):
            await customs.publish(query_subject(CUSTOMS, "case"), request, reply=into)
        # the coordinator answers the same question to an inbox (it is working) ...
        answer = await query_case(customs, requester=CUSTOMS, case_id=case_id)
        assert answer.case is not None
        # ... and, answering in order, published nothing for the two above
        await query_case(customs, requester=CUSTOMS, case_id=case_id)
        assert await _stored(secured_bus) == before
        assert await _stored(secured_bus, DLQ_STREAM) == 0
    finally:
        await customs.close()
