"""Subject permissions, on a real nats-server running what ``ipbus nats-config`` writes.

Each refusal is proved by the server's own "Permissions Violation" error, and by the
effect not happening; the legitimate counterpart is shown to work on the same server.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import StreamConfig

from contracts.identifiers import new_ulid
from contracts.subjects import (
    DLQ_STREAM,
    EVENT_STREAM,
    agency_consumer,
    event_subject,
    parse_event_subject,
)
from services.cli.security import write_nats_config
from services.runtime.bus import agency_consumer_spec, ensure_consumer
from services.runtime.server import EmbeddedNatsServer, free_port
from services.sdk import provision_streams
from tests.conftest import REGISTRY
from tests.integration.secured import SecuredServer, connect_as

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
COURT = "court-shanghai-ip"
REGULATOR = "amr-shanghai"


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredServer]:
    """The generated single-node config, with streams provisioned by the coordinator."""
    out = tmp_path_factory.mktemp("nats-config")
    write_nats_config(REGISTRY, out)
    server = EmbeddedNatsServer(out / "store", port=free_port(), config_file=out / "nats.conf")
    running = SecuredServer(server, out)
    try:
        await server.start()
        await provision_streams(server.url, connection=running.connection("coordinator"))
        yield running
    finally:
        await server.stop()


async def test_an_anonymous_client_is_refused(secured: SecuredServer) -> None:
    errors: list[str] = []

    async def record(error: Exception) -> None:
        errors.append(str(error))

    with pytest.raises(NatsError):
        await nats.connect(
            secured.url, error_cb=record, allow_reconnect=False, max_reconnect_attempts=0
        )
    assert any("authorization violation" in e.lower() for e in errors), errors


async def test_a_client_with_an_unregistered_key_is_refused(
    secured: SecuredServer, tmp_path: Path
) -> None:
    from services.runtime.identity import load_or_create_key

    load_or_create_key(tmp_path / "stranger.nk")
    errors: list[str] = []

    async def record(error: Exception) -> None:
        errors.append(str(error))

    with pytest.raises(NatsError):
        await nats.connect(
            secured.url,
            nkeys_seed=str(tmp_path / "stranger.nk"),
            error_cb=record,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
    assert any("authorization violation" in e.lower() for e in errors), errors


async def test_customs_cannot_publish_as_the_court(secured: SecuredServer) -> None:
    nc, log = await connect_as(secured, CUSTOMS)
    hub, _ = await connect_as(secured, "coordinator")
    try:
        forged = event_subject(COURT, CUSTOMS, new_ulid(), "judgment.rendered")
        before = (await hub.jetstream().stream_info(EVENT_STREAM)).state.messages
        with pytest.raises(NatsTimeout):
            await nc.jetstream().publish(forged, b"{}", timeout=1.0)
        error = await log.wait_for("permissions violation for publish")
        assert forged.lower() in error  # the log is lower-cased; the key is a ULID
        assert (await hub.jetstream().stream_info(EVENT_STREAM)).state.messages == before
    finally:
        await nc.close()
        await hub.close()


async def test_customs_cannot_subscribe_to_all_traffic(secured: SecuredServer) -> None:
    nc, log = await connect_as(secured, CUSTOMS)
    court, _ = await connect_as(secured, COURT)
    try:
        seen: list[str] = []

        async def spy(msg: Msg) -> None:
            seen.append(msg.subject)

        await nc.subscribe("ipbus.v1.>", cb=spy)
        error = await log.wait_for("permissions violation for subscription")
        assert "ipbus.v1.>".lower() in error
        await court.jetstream().publish(
            event_subject(COURT, "coordinator", new_ulid(), "case.opened"), b"{}", timeout=2.0
        )
        await nc.flush()
        await asyncio.sleep(0.2)
        assert seen == []
    finally:
        await nc.close()
        await court.close()


async def test_customs_cannot_read_the_regulators_consumer(secured: SecuredServer) -> None:
    regulator, _ = await connect_as(secured, REGULATOR)
    nc, log = await connect_as(secured, CUSTOMS)
    try:
        await ensure_consumer(regulator.jetstream(), agency_consumer_spec(REGULATOR))
        with pytest.raises(NatsTimeout):
            await nc.jetstream().consumer_info(EVENT_STREAM, agency_consumer(REGULATOR), timeout=1)
        error = await log.wait_for("permissions violation for publish")
        assert f"CONSUMER.INFO.{EVENT_STREAM}.{agency_consumer(REGULATOR)}".lower() in error

        log.errors.clear()
        sub = await nc.jetstream().pull_subscribe_bind(
            agency_consumer(REGULATOR), stream=EVENT_STREAM
        )
        with pytest.raises(NatsTimeout):
            await sub.fetch(1, timeout=1.0)
        error = await log.wait_for("permissions violation for publish")
        assert f"CONSUMER.MSG.NEXT.{EVENT_STREAM}.{agency_consumer(REGULATOR)}".lower() in error
    finally:
        await nc.close()
        await regulator.close()


async def test_customs_cannot_widen_its_own_consumer_to_read_all_mail(
    secured: SecuredServer,
) -> None:
    nc, log = await connect_as(secured, CUSTOMS)
    try:
        js = nc.jetstream(timeout=1.0)
        await ensure_consumer(js, agency_consumer_spec(CUSTOMS))  # its own filter: allowed
        wide = agency_consumer_spec(CUSTOMS).config()
        wide.filter_subject = "ipbus.v1.>"
        with pytest.raises(NatsTimeout):
            await js.add_consumer(EVENT_STREAM, wide)
        error = await log.wait_for("permissions violation for publish")
        assert f"consumer.create.ipbus.{agency_consumer(CUSTOMS)}.ipbus.v1.>" in error
        legacy = agency_consumer_spec(CUSTOMS).config()
        legacy.name, legacy.filter_subject = None, "ipbus.v1.>"
        log.errors.clear()
        with pytest.raises(NatsTimeout):
            await js.add_consumer(EVENT_STREAM, legacy)  # DURABLE.CREATE: filter in the body
        assert "consumer.durable.create" in await log.wait_for("permissions violation")
        info = await js.consumer_info(EVENT_STREAM, agency_consumer(CUSTOMS))
        assert info.config.filter_subject == f"ipbus.v1.*.{CUSTOMS}.>"
    finally:
        await nc.close()


async def test_customs_cannot_create_or_delete_streams(secured: SecuredServer) -> None:
    nc, log = await connect_as(secured, CUSTOMS)
    try:
        js = nc.jetstream(timeout=1.0)
        with pytest.raises(NatsTimeout):
            await js.add_stream(StreamConfig(name="SHADOW", subjects=["shadow.>"]))
        assert "STREAM.CREATE.SHADOW".lower() in await log.wait_for(
            "permissions violation for publish"
        )
        log.errors.clear()
        with pytest.raises(NatsTimeout):
            await js.delete_stream(EVENT_STREAM)
        assert f"STREAM.DELETE.{EVENT_STREAM}".lower() in await log.wait_for(
            "permissions violation for publish"
        )
    finally:
        await nc.close()
    coordinator, _ = await connect_as(secured, "coordinator")
    try:
        assert (await coordinator.jetstream().stream_info(EVENT_STREAM)).config.name == EVENT_STREAM
        names = [info.config.name for info in await coordinator.jetstream().streams_info()]
        assert sorted(n or "" for n in names) == [EVENT_STREAM, DLQ_STREAM, "OBJ_IPBUS_EVIDENCE"]
    finally:
        await coordinator.close()


async def test_an_agency_does_its_job_within_its_rights(secured: SecuredServer) -> None:
    """Publish as itself, read and ack its own consumer, dead-letter, ask the coordinator."""
    customs, customs_log = await connect_as(secured, CUSTOMS)
    regulator, regulator_log = await connect_as(secured, REGULATOR)
    coordinator, coordinator_log = await connect_as(secured, "coordinator")
    try:

        async def answer(msg: Msg) -> None:
            await msg.respond(b'{"error": "case not found, or not shared with you"}')

        await coordinator.subscribe("ipbus.query.*.case", cb=answer)
        await coordinator.flush()

        key = new_ulid()
        ack = await customs.jetstream().publish(
            event_subject(CUSTOMS, REGULATOR, key, "referral.issued"), b"{}", timeout=2
        )
        assert ack.stream == EVENT_STREAM

        await ensure_consumer(regulator.jetstream(), agency_consumer_spec(REGULATOR))
        sub = await regulator.jetstream().pull_subscribe_bind(
            agency_consumer(REGULATOR), stream=EVENT_STREAM
        )
        msgs = await sub.fetch(10, timeout=2)
        routes = [parse_event_subject(m.subject) for m in msgs]  # as stored: with a partition
        assert any(
            (r.sender, r.recipient, r.key, r.event_type, r.partition is not None)
            == (CUSTOMS, REGULATOR, key, "referral.issued", True)
            for r in routes
        )
        for msg in msgs:
            await msg.ack_sync(timeout=2)

        dlq_ack = await regulator.jetstream().publish(
            f"ipbus.dlq.{agency_consumer(REGULATOR)}.not_json", b"x", stream=DLQ_STREAM, timeout=2
        )
        assert dlq_ack.stream == DLQ_STREAM

        reply = await customs.request("ipbus.query.customs-shanghai.case", b"{}", timeout=2)
        assert b"not shared" in reply.data
        await asyncio.sleep(0.1)
        assert customs_log.errors == regulator_log.errors == coordinator_log.errors == []
    finally:
        for client in (customs, regulator, coordinator):
            await client.close()


async def test_an_agency_cannot_dead_letter_under_another_consumer(secured: SecuredServer) -> None:
    nc, log = await connect_as(secured, CUSTOMS)
    try:
        with pytest.raises(NatsTimeout):
            await nc.jetstream().publish(
                f"ipbus.dlq.{agency_consumer(REGULATOR)}.not_json", b"x", timeout=1
            )
        await log.wait_for("permissions violation for publish")
    finally:
        await nc.close()
