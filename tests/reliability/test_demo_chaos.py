"""The demo survives nats-server being killed -9 and restarted in the middle of its run.

The demo runs on the whole bus with its embedded nats-server; as soon as the referral
step begins, a concurrent task kills the server (SIGKILL) and starts it again on the same
port and store. Every service reconnects, the outboxes re-publish, the consumers resume
and the scenario's own expectations (the full shared timeline, states, need-to-know)
hold at the end.
"""

import asyncio
from pathlib import Path

import pytest

from services.cli.catalogue import CATALOGUE
from services.cli.demo import demo_settings, run_demo
from services.runtime.identity import Settings
from services.sdk import Bus
from tests.conftest import REGISTRY

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]


async def test_the_demo_survives_a_nats_server_kill_and_restart_mid_run(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var",
        registry_path=REGISTRY,
        policy_path=REGISTRY.with_name("policy.toml"),
        outbox_poll_seconds=0.2,
    )
    bus = Bus(demo_settings(settings), CATALOGUE)
    lines: list[str] = []
    mid_run = asyncio.Event()
    restarted_after: list[int] = []

    def say(line: str) -> None:
        lines.append(line)
        if line.lstrip().startswith("2."):
            mid_run.set()

    async def crash_nats() -> None:
        await mid_run.wait()
        assert bus.server is not None
        pid = bus.server.pid
        await bus.server.stop(kill=True)
        await asyncio.sleep(1.0)
        await bus.server.start()
        assert bus.server.pid != pid
        restarted_after.append(len(lines))

    try:
        await bus.start()
        chaos = asyncio.create_task(crash_nats())
        await run_demo(bus, say, pace=0)
        await chaos  # it ran: the demo cannot finish before step 2
    finally:
        await bus.stop()
    text = "\n".join(lines)
    assert chaos.done()
    assert chaos.exception() is None
    assert "All expectations hold" in text, text
    (restart,) = restarted_after
    assert any(line.lstrip().startswith("3.") for line in lines[restart:]), text
