"""Two replicas of one service share its durable consumer and its database (outbox
included): each event is applied once, each outgoing event published once — even with
the replica reading the consumer killed -9 with a batch in hand. Two coordinators also
keep stream order: a referral's acknowledgement is never applied before the referral, or
it would be refused and show up as a dead letter (counted as lost). They apply the
stream's partitions at once, so cross-case work runs in parallel: the load's companies,
each named in cases of every partition, must still be indexed in every case and warned
about exactly once."""

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.subjects import COORDINATOR, EVENT_STREAM, stored_filter
from services.runtime.identity import Settings, server_list
from tests.reliability.fleet import ServiceProcess
from tests.reliability.ledger import linkage_of, repeat_infringer_code
from tests.reliability.scenario import (
    ORIGIN,
    RECIPIENT,
    Load,
    events_for,
    kill_process,
    run_scenario,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]


async def test_two_replicas_sharing_a_consumer_and_an_outbox_apply_each_event_once(
    scenario_settings: Settings, own_nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    killed: list[ServiceProcess] = []

    async def kill_the_reading_replica(load: Load) -> None:
        replicas = [load.fleet.processes[name] for name in (RECIPIENT, f"{RECIPIENT}#1")]

        async def kill_the_reader() -> None:
            # one replica reads the consumer in stream order, the other stands by: killing
            # the standby would cut nothing of the consumer's work
            killed.append(reading_replica(replicas))
            killed[-1].kill()

        # the replicas share one outbox and one consumer: their shared work in flight
        await load.kill_in_flight(RECIPIENT, [RECIPIENT], kill_the_reader, after=0.3)
        await asyncio.sleep(0.5)
        killed[-1].start()

    tally, seconds, load = await run_scenario(
        scenario_settings,
        own_nats_url,
        kill_the_reading_replica,
        events=events_for(0.2),  # several batches of the recipient's: one is in hand at 30%
        replicas=2,
    )
    with capsys.disabled():
        db = "PostgreSQL" if scenario_settings.database_url else "SQLite"
        report = tally.report(f"two replicas of {RECIPIENT} on {db}", seconds)
        print(f"{report}{load.kill_report()} (the reader: {killed[0].name})")
    assert len(load.kills) == 1
    assert all(state.busy for _, state in load.kills), load.kill_report()
    assert tally.surplus == 0, tally
    assert tally.lost == 0, tally
    # the killed reader's batch came back to the standby, and the restarted replica met it:
    # they settle by the turn, not by handing batches back round after round (a livelock
    # handed back 8 batches in 108 s); one hand-back per replica is the designed fallback
    handed_back = [
        line
        for replica in (RECIPIENT, f"{RECIPIENT}#1")
        for line in load.fleet.processes[replica].log_file.read_text().splitlines()
        if "no progress; handing the batch back" in line
    ]
    assert len(handed_back) <= 2, handed_back


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

    # cross-case work on partitions applied at once, one coordinator killed in the middle
    linkage = linkage_of(scenario_settings, load.case_ids, ORIGIN)
    warned = await _repeat_infringer_warnings(own_nats_url, linkage.cases_of)
    with capsys.disabled():
        print(
            f"  {len(linkage.cases_of)} companies named in "
            f"{sorted(len(c) for c in linkage.cases_of.values())} cases; party index "
            f"{tally.party_rows} rows (surplus {tally.parties.surplus}, missing "
            f"{tally.parties.missing}); repeat-infringer warnings on the stream per company: "
            f"{dict(sorted(warned.items()))}"
        )
    assert linkage.warned == frozenset(linkage.cases_of), "too few cases per company"
    assert warned == Counter(dict.fromkeys(linkage.cases_of, 1)), warned
    assert (tally.parties.surplus, tally.parties.missing) == (0, 0), tally
    assert tally.party_rows == 2 * load.cases  # a company row and an infringer sighting each


def reading_replica(replicas: Sequence[ServiceProcess]) -> ServiceProcess:
    """The replica that reads the shared consumer now, from the turns each one logged: every
    replica starts reading, steps back when it meets another, takes over a silent consumer."""
    reading = []
    for replica in replicas:
        turn = True
        for line in replica.log_file.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line).get("event", "")
            except ValueError:  # a traceback's lines, a line cut by kill -9
                continue
            if event in ("service started", "nobody reads this partition; taking it over"):
                turn = True
            elif event == "another replica reads it too; standing by":
                turn = False
        if turn:
            reading.append(replica)
    assert reading, "no replica reads the consumer"
    return reading[-1]


async def _repeat_infringer_warnings(nats_url: str, codes: Iterable[str]) -> Counter[str]:
    """The coordinator's own ``warning.issued`` events on the stream, repeat-infringer
    ones counted per company (its credit code is in the title; ``?`` for none known)."""
    nc = await nats.connect(server_list(nats_url))
    try:
        js = nc.jetstream()
        issued = stored_filter(COORDINATOR, COORDINATOR, "warning.issued")
        info = await js.stream_info(EVENT_STREAM, subjects_filter=issued)
        total = sum((info.state.subjects or {}).values())
        subscription = await js.pull_subscribe(
            issued,
            stream=EVENT_STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30
            ),
        )
        warned: Counter[str] = Counter()
        read = 0
        try:
            while read < total:
                for msg in await subscription.fetch(100, timeout=5):
                    read += 1
                    code = repeat_infringer_code(msg.data, codes)
                    if code is not None:
                        warned[code] += 1
        finally:
            await subscription.unsubscribe()
        return warned
    finally:
        await nc.close()
