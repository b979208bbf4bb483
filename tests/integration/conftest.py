"""A running bus for integration tests, on the real nats-server and a real database."""

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from services.cli.catalogue import CATALOGUE
from services.cli.demo import demo_settings
from services.coordinator.store import CoordinatorTable
from services.runtime.bus import Clock
from services.runtime.identity import Settings
from services.runtime.storage import Database, database_url_for, upgrade_schema
from services.sdk import Bus, StopFailed
from tests.conftest import write_policy

pytestmark = pytest.mark.integration

AGENCIES = ("coordinator", "customs-shanghai", "amr-shanghai", "customs-guangdong")


class StartBus(Protocol):
    """``await start_bus(settings, agencies, clock=..., policy=...)``: see :func:`start_bus`."""

    async def __call__(
        self,
        settings: Settings,
        agencies: Sequence[str] | None = None,
        *,
        clock: Clock | None = None,
        policy: str | None = None,
    ) -> Bus: ...


@pytest.fixture
async def start_bus(tmp_path: Path) -> AsyncIterator[StartBus]:
    """Start a bus as ``ipbus up`` would; every bus started is stopped at teardown.

    ``agencies`` (default: every agency of the registry) run as services; ``policy`` is
    TOML on top of the deployed policy (:func:`tests.conftest.write_policy`); ``clock`` is
    the business clock. A bus is registered for teardown before it starts, so one that
    fails half-way is stopped too; a bus that does not stop fails the test
    (:class:`services.sdk.wiring.StopFailed`).
    """
    started: list[Bus] = []

    async def start(
        settings: Settings,
        agencies: Sequence[str] | None = None,
        *,
        clock: Clock | None = None,
        policy: str | None = None,
    ) -> Bus:
        if policy is not None:
            directory = tmp_path / f"policy-{len(started)}"
            settings = settings.model_copy(update={"policy_path": write_policy(directory, policy)})
        running = Bus(settings, CATALOGUE, clock=clock)
        started.append(running)
        await running.start(agencies)
        return running

    try:
        yield start
    finally:
        failures: list[str] = []
        for running in reversed(started):
            try:
                await running.stop()
            except StopFailed as exc:
                failures.append(str(exc))
        if failures:
            pytest.fail(f"a bus did not stop: {'; '.join(failures)}")


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    """Coordinator, two customs offices and a regulator, started as ``ipbus up`` would."""
    return await start_bus(settings, AGENCIES)


@pytest.fixture
async def demo_bus(settings: Settings, start_bus: StartBus) -> Bus:
    """Every agency of the registry, on the demo's policy (deadlines of seconds)."""
    return await start_bus(demo_settings(settings))


@pytest.fixture
async def database(
    database_url: str | None, schema_prefix: str, tmp_path: Path
) -> AsyncIterator[Database]:
    """The coordinator's tables in their own database (SQLite file or PostgreSQL schema)."""
    url = database_url_for(database_url, tmp_path, "coordinator")
    db = Database(url, namespace=schema_prefix + "coordinator")
    await upgrade_schema(db, [CoordinatorTable.metadata])
    try:
        yield db
    finally:
        await db.drop_namespace()
        await db.close()
