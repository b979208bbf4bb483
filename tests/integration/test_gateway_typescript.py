"""A client in a second language (issue 21, part 5): a TypeScript client generated from the
gateway's OpenAPI document with ``@hey-api/openapi-ts`` (pinned in tools/gateway-client) runs
tools/gateway-client/smoke.ts against real gateways — open a case, refer it with an
Idempotency-Key, retry it, read the recipient's inbox, acknowledge. Needs Node ≥ 20 and
``npm ci --prefix tools/gateway-client`` (CI does both); skipped otherwise."""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from contracts.identifiers import new_ulid
from services.runtime.identity import Settings
from services.sdk import Bus, ReferralRecord
from tests.integration.conftest import StartBus, StartGateway

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TOOLS = Path(__file__).parents[2] / "tools" / "gateway-client"
CUSTOMS, REGULATOR = "customs-shanghai", "amr-shanghai"


def _node_ready() -> str | None:
    """Why the smoke cannot run here, or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    if int(version.stdout.strip().lstrip("v").split(".")[0]) < 20:
        return f"node {version.stdout.strip()} is older than 20"
    if not (TOOLS / "node_modules" / ".bin" / "openapi-ts").exists():
        return "run: npm ci --prefix tools/gateway-client --ignore-scripts"
    return None


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", CUSTOMS, REGULATOR))


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=200)
    assert process.returncode == 0, f"{' '.join(args)}:\n{output.decode()[-4000:]}"
    return output.decode()


@pytest.mark.parametrize("database_url", [None], indirect=False)
async def test_a_generated_typescript_client_submits_retries_reads_and_acknowledges(
    bus: Bus, tmp_path: Path, start_gateway: StartGateway
) -> None:
    if (reason := _node_ready()) is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the TypeScript smoke: {reason}")
        pytest.skip(reason)
    gateways = {a: await start_gateway(bus.services[a]) for a in (CUSTOMS, REGULATOR)}
    async with httpx.AsyncClient(timeout=10) as client:
        document = (await client.get(f"{gateways[CUSTOMS].url}/openapi.json")).json()
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    shutil.copy(TOOLS / "smoke.ts", tmp_path / "smoke.ts")
    shutil.copy(TOOLS / "tsconfig.json", tmp_path / "tsconfig.json")
    (tmp_path / "package.json").write_text('{"type": "module"}\n')  # ES modules
    bin_dir = TOOLS / "node_modules" / ".bin"
    await _run(
        [str(bin_dir / "openapi-ts"), "-f", str(TOOLS / "openapi-ts.config.mjs")],
        {
            "GATEWAY_OPENAPI": str(tmp_path / "openapi.json"),
            "GATEWAY_CLIENT_OUT": str(tmp_path / "client"),
        },
        TOOLS,
    )
    await _run([str(bin_dir / "tsc"), "-p", str(tmp_path / "tsconfig.json")], {}, tmp_path)
    case_id, referral_id = new_ulid(), new_ulid()
    output = await _run(
        ["node", str(tmp_path / "out" / "smoke.js")],
        {
            "CUSTOMS_GATEWAY": gateways[CUSTOMS].url,
            "REGULATOR_GATEWAY": gateways[REGULATOR].url,
            "REGULATOR": REGULATOR,
            "CASE_ID": case_id,
            "REFERRAL_ID": referral_id,
        },
        tmp_path,
    )
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["acknowledged"]["item_id"] == f"referral:{referral_id}"
    async with bus.services[CUSTOMS].database.transaction() as session:
        sent = await session.get(ReferralRecord, referral_id)
    assert sent is not None  # issued once: the retry carried nothing out again
