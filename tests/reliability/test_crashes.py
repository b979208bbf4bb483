"""kill -9 while 10,000 events flow: every event is in every database exactly once.

The services run as separate OS processes (``ipbus run``); each is killed in turn and
started again, then nats-server itself is killed and restarted on the same store.
"""

import asyncio

import pytest

from services.runtime.nats_server import EmbeddedNatsServer
from services.runtime.settings import Settings
from tests.reliability.scenario import ORIGIN, RECIPIENT, Load, events_for, run_scenario

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]


async def _kill_each_service_in_turn(load: Load) -> None:
    for name, fraction in (("coordinator", 0.15), (RECIPIENT, 0.35), (ORIGIN, 0.55)):
        await load.reached(fraction)
        process = load.fleet.processes[name]
        process.kill()
        await asyncio.sleep(0.5)
        process.start()


async def test_killing_each_service_in_turn_loses_nothing_and_applies_nothing_twice(
    scenario_settings: Settings, own_nats: EmbeddedNatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    tally, seconds = await run_scenario(
        scenario_settings, own_nats.url, _kill_each_service_in_turn, events=events_for(1.0)
    )
    with capsys.disabled():
        db = "PostgreSQL" if scenario_settings.database_url else "SQLite"
        print(tally.report(f"kill -9 each service on {db}", seconds))
    assert (tally.duplicates, tally.lost) == (0, 0), tally


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_killing_nats_server_mid_stream_loses_nothing_and_applies_nothing_twice(
    scenario_settings: Settings, own_nats: EmbeddedNatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async def kill_nats_twice(load: Load) -> None:
        for fraction in (0.2, 0.5):
            await load.reached(fraction)
            await own_nats.stop(kill=True)
            await asyncio.sleep(1.0)
            await own_nats.start()

    tally, seconds = await run_scenario(
        scenario_settings, own_nats.url, kill_nats_twice, events=events_for(1.0)
    )
    with capsys.disabled():
        print(tally.report("kill -9 nats-server", seconds))
    assert (tally.duplicates, tally.lost) == (0, 0), tally
