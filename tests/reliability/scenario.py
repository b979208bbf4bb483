"""One load scenario: the coordinator, a regulator and a customs office under load, as
separate processes, with some chaos played against them while the events flow.

Each case is five events: case.opened (customs → coordinator), referral.issued
(customs → regulator), referral.acknowledged (regulator → customs), and the coordinator's
referral.copied of both steps to the supervising procuratorate; the coordinator reads all
five. So events cross agency → coordinator, agency → agency and coordinator → agency,
through three outboxes and three inboxes.
"""

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from contracts.identifiers import new_ulid
from contracts.subjects import agency_consumer
from services.runtime.bootstrap import provision_streams
from services.runtime.registry import prepare_registry
from services.runtime.settings import Settings
from services.runtime.streams import StreamLayout
from tests.reliability.fleet import Fleet
from tests.reliability.ledger import EVENTS_PER_CASE, Tally, count_everything

__all__ = ["ORIGIN", "RECIPIENT", "Load", "events_for", "run_scenario"]

FULL_LOAD = 10_000
ORIGIN = "customs-guangdong"
RECIPIENT = "amr-shanghai"


def events_for(share: float) -> int:
    """Events a scenario drives: ``share`` of the issue's 10,000, to fit the time budget.

    ``IPBUS_RELIABILITY_EVENTS=10000`` runs every scenario at that number instead.
    """
    configured = os.environ.get("IPBUS_RELIABILITY_EVENTS")
    if configured:
        return int(configured)
    return round(FULL_LOAD * share)


@dataclass
class Load:
    """A running scenario, as the chaos sees it."""

    fleet: Fleet
    settings: Settings
    nats_url: str
    cases: int
    last: Tally | None = None

    async def tally(self) -> Tally:
        self.last = await count_everything(
            self.settings,
            self.nats_url,
            cases=self.cases,
            origin=ORIGIN,
            recipient=RECIPIENT,
            consumers=(agency_consumer(ORIGIN), agency_consumer(RECIPIENT)),
        )
        return self.last

    async def reached(self, fraction: float, *, timeout_s: float = 120.0) -> None:
        """Wait until the coordinator has ``fraction`` of all events in its timeline."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.fleet.check_alive()
            try:
                tally = await self.tally()
            except Exception:  # tables not created yet, NATS being restarted
                tally = None
            if tally is not None and tally.timeline_distinct >= fraction * tally.expected:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"stuck before {fraction:.0%}: {self.last}")
            await asyncio.sleep(1.0)  # counting every database costs CPU the fleet needs


Chaos = Callable[[Load], Awaitable[None]]


async def run_scenario(
    settings: Settings,
    nats_url: str,
    chaos: Chaos,
    *,
    events: int,
    replicas: int = 1,
    coordinators: int = 1,
    settle_timeout_s: float = 180.0,
) -> tuple[Tally, float]:
    """Start everything, play ``chaos`` while the load flows, wait until it drains.

    ``replicas`` of the regulator and ``coordinators`` replicas of the coordinator share
    their durable consumers."""
    cases = math.ceil(events / EVENTS_PER_CASE)
    prepare_registry(settings.registry_path, settings.keys_dir, settings.effective_registry_path)
    await provision_streams(nats_url, StreamLayout(replicas=settings.stream_replicas))
    cases_file = settings.data_dir / "cases.txt"
    cases_file.write_text("\n".join(new_ulid() for _ in range(cases)))
    fleet = Fleet(settings, nats_url)
    for replica in range(coordinators):
        fleet.service("coordinator", "coordinator", replica=replica)
    for replica in range(replicas):
        fleet.service("enforcement", RECIPIENT, replica=replica)
    fleet.load_agency(ORIGIN, RECIPIENT, cases_file)
    load = Load(fleet, settings, nats_url, cases)
    started = time.monotonic()
    fleet.start_all()
    try:
        await chaos(load)
        deadline = time.monotonic() + settle_timeout_s
        while True:
            fleet.check_alive()
            with contextlib.suppress(Exception):  # counting fails while NATS restarts
                if (await load.tally()).complete:
                    break
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in fleet.processes.values())
                raise AssertionError(f"did not drain: {load.last}\n{logs}")
            await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.0)  # anything still in flight would show up now
        return await load.tally(), elapsed
    finally:
        fleet.stop_all()
