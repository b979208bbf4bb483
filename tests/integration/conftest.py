"""A running bus for integration tests, on the real nats-server and a real database."""

from collections.abc import AsyncIterator

import pytest

from services.cli.catalogue import CATALOGUE
from services.cli.demo import demo_settings
from services.runtime.bootstrap import Bus
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
