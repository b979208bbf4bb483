"""``ipbus demo`` on its defaults: embedded nats-server with permissions on, every event
signed, and the whole stream verifiable afterwards from the effective registry alone."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from contracts.envelope import EnvelopeRejected, RejectReason, decode_event
from contracts.subjects import EVENT_STREAM
from services.runtime.identity import AgencyConnection, key_path, load_registry, verify_event
from services.runtime.server import EmbeddedNatsServer, free_port
from tests.conftest import REGISTRY

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
async def test_the_default_demo_runs_with_permissions_and_signed_traffic(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {**os.environ, "IPBUS_DATA_DIR": str(data_dir), "IPBUS_REGISTRY_PATH": str(REGISTRY)}
    for name in ("IPBUS_NATS_URL", "IPBUS_DATABASE_URL", "IPBUS_NATS_AUTH"):
        env.pop(name, None)
    demo = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("ipbus")),
        "demo",
        "--pace",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(demo.communicate(), 150)
    assert demo.returncode == 0, out.decode()
    config = data_dir / "nats" / "ipbus.conf"
    assert "authorization" in config.read_text()
    server_log = (data_dir / "nats" / "nats-server.log").read_text()
    assert "Violation" not in server_log, server_log[-2000:]

    # From outside: reopen the store and check every event against the effective registry.
    registry = load_registry(data_dir / "agencies.toml")
    server = EmbeddedNatsServer(data_dir / "nats", port=free_port(), config_file=config)
    try:
        await server.start()
        hub = AgencyConnection("coordinator", seed_file=key_path(data_dir / "keys", "coordinator"))
        nc = await hub.connect(server.url, name="outside-verifier")
        try:
            js = nc.jetstream()
            state = (await js.stream_info(EVENT_STREAM)).state
            verified, refused = 0, []
            for seq in range(state.first_seq, state.last_seq + 1):
                msg = await js.get_msg(EVENT_STREAM, seq)
                try:
                    event = decode_event(msg.data or b"", msg.subject or "")
                except EnvelopeRejected as exc:
                    refused.append(exc.reason)
                    continue
                sender = registry.get(event.sender)
                verify_event(event, [k for k in (sender.public_key,) if k])
                verified += 1
        finally:
            await nc.close()
    finally:
        await server.stop()
    assert refused == [RejectReason.NOT_JSON]  # the demo's deliberate garbage
    assert verified >= 12
