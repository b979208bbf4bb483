"""Two replicas of one service share its durable consumer and its database (outbox
included): each event is applied once, each outgoing event published once — even
with one replica killed -9 in the middle. Two coordinators also keep stream order: a
referral's acknowledgement is never applied before the referral, or it would be refused
and show up as a dead letter (counted as lost)."""

import asyncio
from functools import partial

import pytest

from contracts.subjects import COORDINATOR
from services.runtime.identity import Settings
from tests.reliability.scenario import RECIPIENT, Load, events_for, kill_process, run_scenario

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]


async def test_two_replicas_sharing_a_consumer_and_an_outbox_apply_each_event_once(
    scenario_settings: Settings, own_nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def kill_one_replica(load: Load) -> None:
        replica = load.fleet.processes[f"{RECIPIENT}#1"]
        # the replicas share one outbox and one consumer: their shared work in flight
        await load.kill_in_flight(
            replica.name, [RECIPIENT], partial(kill_process, replica), after=0.4
        )
        await asyncio.sleep(0.5)
        replica.start()

    tally, seconds, load = await run_scenario(
        scenario_settings,
        own_nats_url,
        kill_one_replica,
        events=events_for(0.1),
        replicas=2,
    )
    with capsys.disabled():
        db = "PostgreSQL" if scenario_settings.database_url else "SQLite"
        print(tally.report(f"two replicas of {RECIPIENT} on {db}", seconds) + load.kill_report())
    assert len(load.kills) == 1
    assert all(state.busy for _, state in load.kills), load.kill_report()
    assert tally.surplus == 0, tally
    assert tally.lost == 0, tally


async def test_two_coordinators_sharing_a_consumer_apply_every_case_in_stream_order(
    scenario_settings: Settings, own_nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def kill_one_coordinator(load: Load) -> None:
        replica = load.fleet.processes["coordinator#1"]
        # its batch in hand comes back after the first backoff
        await load.kill_in_flight(
            replica.name, [COORDINATOR], partial(kill_process, replica), after=0.3
        )
        await load.reached(0.6)
        replica.start()

    tally, seconds, load = await run_scenario(
        scenario_settings,
        own_nats_url,
        kill_one_coordinator,
        events=events_for(0.1),
        coordinators=2,
    )
    with capsys.disabled():
        db = "PostgreSQL" if scenario_settings.database_url else "SQLite"
        print(tally.report(f"two coordinators, one killed, on {db}", seconds) + load.kill_report())
    assert len(load.kills) == 1
    assert all(state.busy for _, state in load.kills), load.kill_report()
    assert tally.surplus == 0, tally
    assert (tally.lost, tally.dead_letters) == (0, 0), tally
