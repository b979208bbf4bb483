"""Fixtures of the reliability suite: a scenario's settings and its own nats-server."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runtime.identity import Settings
from services.runtime.server import EmbeddedNatsServer, free_port
from tests.conftest import REGISTRY, on_postgresql


@pytest.fixture(autouse=True)
def _nothing_left_running(nothing_left_running: None) -> None:
    """Every reliability test: see :func:`tests.conftest.nothing_left_running`."""


@pytest.fixture
def scenario_settings(tmp_path: Path, database_url: str | None, schema_prefix: str) -> Settings:
    """Settings every process of a scenario shares (the NATS URL is given per process)."""
    if database_url is not None:
        on_postgresql(schema_prefix)  # dropped once the scenario's processes are gone
    return Settings(
        database_url=database_url,
        database_schema_prefix=schema_prefix,
        data_dir=tmp_path / "var",
        registry_path=REGISTRY,
        outbox_poll_seconds=0.5,
    )


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[EmbeddedNatsServer]:
    """A nats-server of this test alone: the scenario kills it."""
    server = EmbeddedNatsServer(tmp_path / "nats", port=free_port())
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def own_nats_url(own_nats: EmbeddedNatsServer) -> str:
    return own_nats.url
