"""A bus with every agency a warning may reach, on a fixed clock and a fast follow-up policy."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client

from contracts.envelope import Envelope
from contracts.subjects import EVENT_STREAM
from services.runtime.bus import FixedClock
from services.runtime.identity import Settings
from services.sdk import AgencyAdapter, Bus, WarningRecord
from tests.integration.conftest import StartBus

__all__ = ["AGENCIES", "START", "adapter", "held_warning", "on_stream"]

AGENCIES = (
    "coordinator",
    "customs-shanghai",
    "amr-shanghai",
    "psb-shanghai",
    "procuratorate-shanghai",
    "customs-guangdong",
    "amr-guangdong",
    "overseas-center",
)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FAST_POLICY = """
# on the real rules and calendar (customs' clocks need them): a fast warning follow-up
[warnings]
redeliver_after_minutes = 60
max_redeliveries = 1
watch_seconds = 0.1
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def warning_bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    return await start_bus(settings, AGENCIES, clock=clock, policy=FAST_POLICY)


@pytest.fixture
async def nc(warning_bus: Bus) -> AsyncIterator[Client]:
    client = await nats.connect(warning_bus.nats_url)
    try:
        yield client
    finally:
        await client.close()


def adapter(bus: Bus, agency_id: str) -> AgencyAdapter:
    service = bus.services[agency_id]
    assert isinstance(service, AgencyAdapter)
    return service


async def held_warning(bus: Bus, agency_id: str, warning_id: str) -> WarningRecord | None:
    async with bus.services[agency_id].database.transaction() as session:
        return await session.get(WarningRecord, warning_id)


async def on_stream(nc: Client, event_type: str) -> list[tuple[str, Envelope]]:
    """(recipient, envelope) of every ``event_type`` message on the IPBUS stream, in order."""
    js = nc.jetstream()
    info = await js.stream_info(EVENT_STREAM)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(EVENT_STREAM, seq)
        subject = msg.subject or ""
        if subject.endswith("." + event_type):
            found.append((subject.split(".")[3], Envelope.model_validate_json(msg.data or b"")))
    return found
