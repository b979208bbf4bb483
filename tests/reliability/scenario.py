"""One load scenario: the coordinator, a regulator and a customs office under load, as
separate processes, with some chaos played against them while the events flow.

Each case is three events: case.opened (customs → coordinator), referral.issued
(customs → regulator) and referral.acknowledged (regulator → customs); the coordinator
reads all three. So events cross agency → coordinator and agency → agency, through the
agencies' outboxes and three inboxes. The cases name a few companies in turn, so the
coordinator also links them across cases and warns of repeat infringers (to itself, then
the agencies the warning is routed to): see :func:`tests.reliability.ledger.linkage_of`.
"""

import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import nats
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, EVENT_STREAM, agency_consumer
from services.runtime.bus import (
    COORDINATOR_CONSUMER,
    InboxRecord,
    StreamLayout,
    coordinator_durables,
    unsent_count,
)
from services.runtime.identity import Settings, prepare_registry, server_list
from services.sdk import provision_streams
from tests.reliability.fleet import Fleet, ServiceProcess
from tests.reliability.ledger import (
    EVENTS_PER_CASE,
    Tally,
    count_everything,
    database_of,
    linkage_of,
)

__all__ = [
    "EVERY_SERVICE",
    "ORIGIN",
    "RECIPIENT",
    "InFlight",
    "Load",
    "events_for",
    "kill_process",
    "run_scenario",
]

FULL_LOAD = 10_000
REACH_TIMEOUT_S = 120.0
"""How long a service may take to apply the share of the load a chaos step waits for."""
ORIGIN = "customs-guangdong"
RECIPIENT = "amr-shanghai"
EVERY_SERVICE = (COORDINATOR, RECIPIENT, ORIGIN)


def events_for(share: float) -> int:
    """Events a scenario drives: ``share`` of the issue's 10,000, to fit the time budget.

    ``IPBUS_RELIABILITY_EVENTS=10000`` runs every scenario at that number instead.
    """
    configured = os.environ.get("IPBUS_RELIABILITY_EVENTS")
    if configured:
        return int(configured)
    return round(FULL_LOAD * share)


@dataclass(frozen=True, slots=True)
class InFlight:
    """Work a service holds at one instant: outbox rows not yet marked sent, and messages
    JetStream delivered to its consumer that it has not acknowledged."""

    unsent: dict[str, int]
    unacknowledged: dict[str, int]
    applied: float = 0.0
    """The share of its load the first agency looked at had applied at that instant."""

    @property
    def busy(self) -> bool:
        return any(self.unsent.values()) or any(self.unacknowledged.values())

    def __str__(self) -> str:
        rows = ", ".join(f"{name} {n}" for name, n in self.unsent.items())
        acks = ", ".join(f"{name} {n}" for name, n in self.unacknowledged.items())
        return (
            f"outbox rows unsent: {rows}; delivered, unacknowledged: {acks}; "
            f"{self.applied:.0%} applied"
        )


@dataclass
class Load:
    """A running scenario, as the chaos sees it."""

    fleet: Fleet
    settings: Settings
    nats_url: str
    case_ids: list[str]
    coordinator_share: int
    """The events the coordinator reads: every case's, and the linkage warnings'."""
    last: Tally | None = None
    kills: list[tuple[str, InFlight]] = field(default_factory=list)
    """What each kill cut: the killed part's work in flight at the instant before."""

    @property
    def cases(self) -> int:
        return len(self.case_ids)

    async def tally(self) -> Tally:
        self.last = await count_everything(
            self.settings,
            self.nats_url,
            case_ids=self.case_ids,
            origin=ORIGIN,
            recipient=RECIPIENT,
            consumers=(agency_consumer(ORIGIN), agency_consumer(RECIPIENT)),
        )
        return self.last

    async def progress(self, agency_id: str = COORDINATOR) -> float:
        """The share of its work ``agency_id`` has applied (rows in its inbox): the
        coordinator reads every event, an agency one per case. Cheap enough every second."""
        database = database_of(self.settings, agency_id)
        try:
            async with database.transaction() as session:
                return await self._applied(session, agency_id)
        finally:
            await database.close()

    async def _applied(self, session: AsyncSession, agency_id: str) -> float:
        share = self.coordinator_share if agency_id == COORDINATOR else self.cases
        applied = await session.scalar(
            select(func.count())
            .select_from(InboxRecord)
            .where(col(InboxRecord.consumer) == consumer_of(agency_id))
        )
        return int(applied or 0) / share

    async def reached(
        self, fraction: float, agency_id: str = COORDINATOR, *, timeout_s: float = REACH_TIMEOUT_S
    ) -> None:
        """Wait until ``agency_id`` has applied ``fraction`` of its share of the load."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.fleet.check_alive()
            try:
                done = await self.progress(agency_id)
            except Exception:  # tables not created yet, NATS being restarted
                done = -1.0
            if done >= fraction:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{agency_id} stuck before {fraction:.0%}: {done:.0%}")
            await asyncio.sleep(0.5)  # counting costs CPU the fleet needs

    async def in_flight(self, agencies: Sequence[str]) -> InFlight:
        """The work ``agencies`` hold right now, read from their databases and JetStream."""
        async with self._probe(agencies) as probe:
            return await probe()

    @contextlib.asynccontextmanager
    async def _probe(
        self, agencies: Sequence[str]
    ) -> AsyncIterator[Callable[[], Awaitable[InFlight]]]:
        """A quick, repeatable look at ``agencies``' work in flight (connections kept open)."""
        databases = {agency_id: database_of(self.settings, agency_id) for agency_id in agencies}
        nc = await nats.connect(server_list(self.nats_url))
        js = nc.jetstream()

        async def look() -> InFlight:
            unsent: dict[str, int] = {}
            applied = 0.0
            for agency_id, database in databases.items():
                async with database.transaction() as session:
                    unsent[agency_id] = await unsent_count(session)
                    if agency_id == agencies[0]:
                        applied = await self._applied(session, agency_id)
            unacknowledged: dict[str, int] = {}
            for agency_id in agencies:
                durables = (
                    await coordinator_durables(js)
                    if agency_id == COORDINATOR
                    else (agency_consumer(agency_id),)
                )
                unacknowledged[agency_id] = 0
                for durable in durables:  # the coordinator: one consumer per partition
                    info = await js.consumer_info(EVENT_STREAM, durable)
                    unacknowledged[agency_id] += int(info.num_ack_pending or 0)
            return InFlight(unsent, unacknowledged, applied)

        try:
            yield look
        finally:
            await nc.close()
            for database in databases.values():
                await database.close()

    async def kill_in_flight(
        self,
        what: str,
        agencies: Sequence[str],
        kill: Callable[[], Awaitable[None]],
        *,
        after: float,
        timeout_s: float = 60.0,
    ) -> InFlight:
        """Once the first of ``agencies`` has applied ``after`` of its share of the load,
        wait until they hold work in flight and ``kill`` at that instant: the kill is timed
        by the killed part's own state, as a kill that cuts nothing proves nothing.

        One probe watches both, every few milliseconds: a reader that fell behind applies
        the rest in a few large batches, so the share can leap past ``after`` and the work
        in flight be gone between two slower looks."""
        await self.reached(0.0, agencies[0])  # its tables exist
        reached_by = time.monotonic() + REACH_TIMEOUT_S
        deadline: float | None = None
        async with self._probe(agencies) as look:
            while True:
                self.fleet.check_alive()
                try:
                    state = await look()
                except Exception:  # JetStream still recovering from a restart: look again
                    state = InFlight({}, {}, applied=-1.0)
                now = time.monotonic()
                if state.applied < after:
                    if now > reached_by:
                        raise AssertionError(f"{what}: stuck before {after:.0%} ({state})")
                    await asyncio.sleep(0.05)  # the fleet's CPU is spared until then
                    continue
                if state.busy:
                    break
                deadline = deadline or now + timeout_s
                if now > deadline:
                    raise AssertionError(f"{what}: never caught with work in flight ({state})")
                await asyncio.sleep(0.01)
        # killed the moment the probe has let go (milliseconds): closing a nats-py client
        # whose server was just killed under it ends in a CancelledError from its transport
        await kill()
        self.kills.append((what, state))
        return state

    def kill_report(self) -> str:
        return "".join(f"\n  kill -9 {what}: {state}" for what, state in self.kills)


def consumer_of(agency_id: str) -> str:
    """The consumer name ``agency_id`` files its inbox rows under (the coordinator's logical
    name: it reads through one durable consumer per partition)."""
    return COORDINATOR_CONSUMER if agency_id == COORDINATOR else agency_consumer(agency_id)


async def kill_process(process: ServiceProcess) -> None:
    process.kill()


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
) -> tuple[Tally, float, Load]:
    """Start everything, play ``chaos`` while the load flows, wait until it drains.

    ``replicas`` of the regulator and ``coordinators`` replicas of the coordinator share
    their durable consumers."""
    cases = math.ceil(events / EVENTS_PER_CASE)
    prepare_registry(settings.registry_path, settings.keys_dir, settings.effective_registry_path)
    await provision_streams(nats_url, StreamLayout(replicas=settings.stream_replicas))
    case_ids = [new_ulid() for _ in range(cases)]
    cases_file = settings.data_dir / "cases.txt"
    cases_file.write_text("\n".join(case_ids))
    fleet = Fleet(settings, nats_url)
    for replica in range(coordinators):
        fleet.service("coordinator", "coordinator", replica=replica)
    for replica in range(replicas):
        # replicas log their turns (info): a test tells the reading one from the standby
        fleet.service(
            "enforcement",
            RECIPIENT,
            replica=replica,
            log_level="INFO" if replicas > 1 else "WARNING",
        )
    fleet.load_agency(ORIGIN, RECIPIENT, cases_file)
    linkage = linkage_of(settings, case_ids, ORIGIN)
    load = Load(fleet, settings, nats_url, case_ids, EVENTS_PER_CASE * cases + linkage.events)
    started = time.monotonic()
    fleet.start_all()
    try:
        await chaos(load)
        deadline = time.monotonic() + settle_timeout_s
        while True:
            fleet.check_alive()
            with contextlib.suppress(Exception):  # counting fails while NATS restarts
                if await load.progress() >= 1.0 and (await load.tally()).complete:
                    break
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in fleet.processes.values())
                raise AssertionError(f"did not drain: {load.last}\n{logs}")
            await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.0)  # anything still in flight would show up now
        return await load.tally(), elapsed, load
    finally:
        fleet.stop_all()
