"""A running bus for integration tests, on the real nats-server and a real database."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.cli.catalogue import CATALOGUE
from services.cli.demo import demo_settings
from services.coordinator.store import CoordinatorTable
from services.runtime.bootstrap import Bus
from services.runtime.database import Database, database_url_for
from services.runtime.migrations import upgrade_schema
from services.runtime.settings import Settings

pytestmark = pytest.mark.integration

AGENCIES = ("coordinator", "customs-shanghai", "amr-shanghai", "customs-guangdong")


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[Bus]:
    """Coordinator, two customs offices and a regulator, started as ``ipbus up`` would."""
    running = Bus(settings, CATALOGUE)
    await running.start(AGENCIES)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def demo_bus(settings: Settings) -> AsyncIterator[Bus]:
    """Every agency of the registry, on the demo's policy (deadlines of seconds)."""
    running = Bus(demo_settings(settings), CATALOGUE)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


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
