"""``ipbus demo`` as a user runs it, against an external NATS server (IPBUS_NATS_URL)."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import REGISTRY

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
async def test_ipbus_demo_succeeds_against_an_external_nats_server(
    fresh_streams: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "IPBUS_NATS_URL": fresh_streams,
        "IPBUS_DATA_DIR": str(tmp_path / "var"),
        "IPBUS_REGISTRY_PATH": str(REGISTRY),
    }
    env.pop("IPBUS_DATABASE_URL", None)
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
    text = out.decode()
    assert demo.returncode == 0, text
    assert "All expectations hold" in text
    assert "reason=not_json" in text
    assert "the court confirmed the agreement" in text  # the SDK-built mediation centre took part
    assert "basis ex_officio (the holder applied after customs' notice)" in text  # the desk
    assert "customs releases the goods" in text
    assert (tmp_path / "var" / "agencies.toml").is_file()
    assert sorted(p.name for p in (tmp_path / "var" / "keys").iterdir())[0].endswith(".nk")
