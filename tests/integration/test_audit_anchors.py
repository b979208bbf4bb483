"""The audit anchors' stream on a real nats-server: the server keeps anchors (no deletes, no
purges, whoever asks), and under the generated permissions only the coordinator publishes
them while nobody may delete, purge or reconfigure their stream."""

from collections.abc import AsyncIterator

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError

from contracts.subjects import AUDIT_ANCHOR_STREAM, AUDIT_ANCHOR_SUBJECT, COORDINATOR
from services.cli.security import site_dir, write_nats_config
from services.coordinator.audit.anchors import (
    anchor_signed_by,
    anchor_stream_config,
    ensure_anchor_stream,
    latest_anchor,
    sign_anchor,
)
from services.runtime.identity import AgencyKey, key_path, load_registry
from services.runtime.server import EmbeddedNatsServer, free_port
from tests.conftest import REGISTRY
from tests.integration.secured import SecuredServer, connect_as

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredServer]:
    out = tmp_path_factory.mktemp("nats-config")
    write_nats_config(REGISTRY, out)
    server = EmbeddedNatsServer(out / "store", port=free_port(), config_file=out / "nats.conf")
    try:
        await server.start()
        yield SecuredServer(server, out)
    finally:
        await server.stop()


async def test_the_server_refuses_to_delete_or_purge_anchors(fresh_streams: str) -> None:
    """Even a client with every right (an open server) cannot remove an anchor."""
    nc = await nats.connect(fresh_streams)
    try:
        js = nc.jetstream()
        await ensure_anchor_stream(js)
        for rows in (1, 2):
            await js.publish(
                AUDIT_ANCHOR_SUBJECT, b'{"rows": %d}' % rows, stream=AUDIT_ANCHOR_STREAM
            )
        with pytest.raises(APIError):
            await js.delete_msg(AUDIT_ANCHOR_STREAM, 2)
        with pytest.raises(APIError):
            await js.purge_stream(AUDIT_ANCHOR_STREAM)
        relaxed = anchor_stream_config()
        relaxed.deny_delete = relaxed.deny_purge = False
        with pytest.raises(APIError):
            await js.update_stream(relaxed)
        assert (await js.stream_info(AUDIT_ANCHOR_STREAM)).state.messages == 2
    finally:
        await nc.close()


async def test_only_the_coordinator_publishes_anchors_and_nobody_removes_them(
    secured: SecuredServer,
) -> None:
    coordinator, coordinator_log = await connect_as(secured, "coordinator")
    customs, customs_log = await connect_as(secured, "customs-shanghai")
    try:
        js = coordinator.jetstream(timeout=2.0)
        await ensure_anchor_stream(js)
        key = AgencyKey(
            key_path(site_dir(secured.credentials, COORDINATOR), COORDINATOR).read_bytes()
        )
        anchor = sign_anchor(key, agency="coordinator", rows=7, head="ab" * 32, time="t")
        await js.publish(AUDIT_ANCHOR_SUBJECT, anchor.to_json(), stream=AUDIT_ANCHOR_STREAM)
        latest = await latest_anchor(js)
        assert latest == anchor
        public = load_registry(secured.credentials / "agencies.toml").get("coordinator")
        assert public.public_key is not None
        assert anchor_signed_by(latest, [public.public_key])

        with pytest.raises(NatsTimeout):
            await js.purge_stream(AUDIT_ANCHOR_STREAM)
        assert "purge" in await coordinator_log.wait_for("permissions violation for publish")
        coordinator_log.errors.clear()
        with pytest.raises(NatsTimeout):
            await js.update_stream(anchor_stream_config())
        assert "update" in await coordinator_log.wait_for("permissions violation for publish")

        forged = sign_anchor(key, agency="coordinator", rows=0, head="0" * 64, time="later")
        await customs.publish(AUDIT_ANCHOR_SUBJECT, forged.to_json())
        assert AUDIT_ANCHOR_SUBJECT in await customs_log.wait_for("permissions violation")
        customs_js = customs.jetstream(timeout=1.0)
        with pytest.raises(NatsTimeout):
            await customs_js.delete_stream(AUDIT_ANCHOR_STREAM)
        assert await latest_anchor(js) == anchor
    finally:
        await customs.close()
        await coordinator.close()
