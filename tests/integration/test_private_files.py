"""Databases, logs and keys are the owner's alone (issue 14 part 5): a bus started on its
own defaults (embedded nats-server with nkeys, SQLite under the data dir) under a permissive
umask leaves every file it writes 0600 and every directory it makes 0700."""

import os
import stat
from pathlib import Path

import pytest

from services.runtime.identity import Settings
from tests.conftest import REGISTRY
from tests.integration.conftest import StartBus

pytestmark = pytest.mark.integration


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.timeout(90)
async def test_sqlite_files_logs_and_keys_are_0600_under_0700_directories(
    tmp_path: Path, start_bus: StartBus
) -> None:
    data_dir = tmp_path / "var"
    settings = Settings(data_dir=data_dir, registry_path=REGISTRY, outbox_poll_seconds=0.2)
    previous = os.umask(0o022)
    try:
        bus = await start_bus(settings, ("coordinator", "amr-shanghai"))
        async with bus.services["amr-shanghai"].database.transaction() as session:
            assert session is not None  # the database is written, its WAL exists
        await bus.stop()  # every file closed and written before it is looked at
    finally:
        os.umask(previous)

    keys = sorted(settings.keys_dir.iterdir())
    databases = sorted((data_dir / "db").glob("*.sqlite*"))
    logs = sorted(data_dir.rglob("*.log"))
    assert any(k.name == "coordinator.nk" for k in keys)
    assert any(k.name == "pseudonym.key" for k in keys)
    assert {d.name for d in databases} >= {"coordinator.sqlite", "amr-shanghai.sqlite"}
    assert logs, "the embedded server writes a log"
    for path in [*keys, *databases, *logs]:
        assert _mode(path) == 0o600, (path, oct(_mode(path)))
    for directory in (data_dir, settings.keys_dir, data_dir / "db", data_dir / "nats"):
        assert _mode(directory) == 0o700, (directory, oct(_mode(directory)))
