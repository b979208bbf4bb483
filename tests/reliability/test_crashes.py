"""kill -9 while 10,000 events flow: every event is in every database exactly once.

The services run as separate OS processes (``ipbus run``); each is killed in turn and
started again, then nats-server itself is killed and restarted on the same store.
"""

import asyncio
from functools import partial

import pytest

from services.runtime.identity import Settings
from services.runtime.server import EmbeddedNatsServer
from tests.reliability.scenario import (
    EVERY_SERVICE,
    ORIGIN,
    RECIPIENT,
    Load,
    events_for,
    kill_process,
    run_scenario,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]


async def _kill_each_service_in_turn(load: Load) -> None:
    """Each service is killed at an instant it holds work: outbox rows not yet marked
    sent, or messages delivered to it and not acknowledged (its own state, not the
    coordinator's progress)."""
    for name, fraction in (("coordinator", 0.15), (RECIPIENT, 0.35), (ORIGIN, 0.35)):
        process = load.fleet.processes[name]
        await load.kill_in_flight(name, [name], partial(kill_process, process), after=fraction)
        await asyncio.sleep(0.5)
        process.start()


async def test_killing_each_service_in_turn_loses_nothing_and_applies_nothing_twice(
    scenario_settings: Settings, own_nats: EmbeddedNatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    tally, seconds, load = await run_scenario(
        scenario_settings, own_nats.url, _kill_each_service_in_turn, events=events_for(1.0)
    )
    with capsys.disabled():
        db = "PostgreSQL" if scenario_settings.database_url else "SQLite"
        print(tally.report(f"kill -9 each service on {db}", seconds) + load.kill_report())
    assert [what for what, _ in load.kills] == ["coordinator", RECIPIENT, ORIGIN]
    assert all(state.busy for _, state in load.kills), load.kill_report()
    assert tally.surplus == 0, tally
    assert tally.lost == 0, tally


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_killing_nats_server_mid_stream_loses_nothing_and_applies_nothing_twice(
    scenario_settings: Settings, own_nats: EmbeddedNatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async def kill_nats_twice(load: Load) -> None:
        for fraction in (0.2, 0.5):
            await load.kill_in_flight(
                "nats-server", EVERY_SERVICE, partial(own_nats.stop, kill=True), after=fraction
            )
            await asyncio.sleep(1.0)
            await own_nats.start()

    tally, seconds, load = await run_scenario(
        scenario_settings, own_nats.url, kill_nats_twice, events=events_for(1.0)
    )
    with capsys.disabled():
        print(tally.report("kill -9 nats-server", seconds) + load.kill_report())
    assert len(load.kills) == 2
    assert all(state.busy for _, state in load.kills), load.kill_report()
    assert tally.surplus == 0, tally
    assert tally.lost == 0, tally
