"""``ipbus run mediation --gateway-port P``: an adapter named only by its registry entry runs as
its own process (the production shape) and serves its gateway, to its agency's systems only."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from services.runtime.server import free_port
from tests.conftest import REGISTRY

pytestmark = pytest.mark.integration


async def test_a_registry_named_adapter_runs_alone_with_its_gateway(
    fresh_streams: str, tmp_path: Path
) -> None:
    port = free_port()
    env = os.environ | {
        "IPBUS_ENV": "development",  # an open test server: `ipbus run` is production otherwise
        "IPBUS_NATS_URL": fresh_streams,
        "IPBUS_DATA_DIR": str(tmp_path / "var"),
        "IPBUS_REGISTRY_PATH": str(REGISTRY),
        "IPBUS_LOG_FORMAT": "json",
        "IPBUS_GATEWAY_TOKEN": "s3cret-token",
        "IPBUS_HTTP_PORT": "0",
    }
    env.pop("IPBUS_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from services.cli.main import app; app()",
        "run", "mediation", "--gateway-port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": "Bearer s3cret-token"}
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=5) as client:
            for _ in range(300):
                if process.returncode is not None:
                    break
                try:
                    answer = await client.get("/inbox")
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                assert answer.status_code == 200
                assert answer.json() == []
                for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
                    refused = await client.get("/inbox", headers=headers)
                    assert refused.status_code == 401
                document = (await client.get("/openapi.json")).json()
                assert "mediation-shanghai" in document["info"]["title"]
                break
            else:
                pytest.fail("the gateway never answered")
        assert process.returncode is None, "ipbus run exited early"
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, output.decode()[-3000:]
        assert b"service started" in output
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
