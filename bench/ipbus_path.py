"""The ipbus path: adapters' outboxes → JetStream → the coordinator, with every check on.

The coordinator runs as its own process (``ipbus run coordinator``; ``replicas`` of them on
one database), as a deployment runs it: validation, signature verification, inbox, case
file, timeline and audit writes all happen, and every applied batch is logged at INFO (one
line naming its events). The adapters (the real services: unit of work, outbox, relay, their
own consumers) run in this process. ``mix`` chooses what they do: ``lifecycle`` (cases
opened, referred, acknowledged, accepted, concluded; warnings routed and acknowledged:
:mod:`bench.mix`) or ``status`` (status changes of open cases, one kind of event).
"""

import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats

from bench.baseline import publish_all
from bench.cpu import CpuMeter, CpuUse
from bench.mix import MIX_AGENCIES, mix_services, play_mix
from bench.processes import (
    CoordinatorProcess,
    committed_at,
    consumers_drained,
    drained,
    rss_mb,
)
from bench.workload import SENDER, Workload
from contracts.agencies import AgencyKind
from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, agency_consumer
from services.customs.app import CustomsService
from services.runtime.bus import unsent_count
from services.runtime.identity import Settings
from services.runtime.storage import as_utc
from services.sdk import Bus

__all__ = ["IpbusResult", "run_ipbus"]

EMIT_BATCH = 100
"""Events an adapter commits per transaction in the status throughput run."""
LIFECYCLE_EVENTS_PER_CASE = 5.3
"""Agency events per case of the lifecycle mix (five per referred case, and a warning with
two acknowledgements every ten cases): sizes the mix to about the baseline's count."""


@dataclass(frozen=True, slots=True)
class IpbusResult:
    ipbus_eps: float
    ingest_eps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    offered_eps: int
    rss_mb: float
    events: int
    """Agency events the throughput run carried (the mix counts its own)."""
    cpu: CpuUse
    """What each process spent in the throughput run: this one's adapters, the
    coordinator(s), nats-server (and a local PostgreSQL's server processes)."""
    latency_cpu: CpuUse
    """The same in the latency run: one event per adapter transaction, so what a lone event
    costs the customs adapter (with its relay) and the coordinator."""
    latency_events: int


def _status(index: int) -> CaseStatusChanged:
    return CaseStatusChanged(
        local_ref=f"SH-CUS-2026-{index % 200:05d}",
        status=CaseStatus.INVESTIGATING,
        note=f"inspection round {index // 200}",
    )


async def _all_sent(bus: Bus) -> None:
    """Poll until every running adapter's outbox is empty."""
    for service in bus.services.values():
        while True:
            async with service.database.transaction() as session:
                if await unsent_count(session) == 0:
                    break
            await asyncio.sleep(0.05)


async def run_ipbus(
    settings: Settings,
    workload: Workload,
    *,
    offered_eps: int,
    latency_seconds: float,
    log: Path,
    nats_pid: int,
    mix: str = "lifecycle",
    replicas: int = 1,
) -> IpbusResult:
    """Throughput through adapters, ingest of pre-signed events, latency at a fixed load."""
    lifecycle = mix == "lifecycle"
    agencies = list(MIX_AGENCIES) if lifecycle else [SENDER]
    bus = Bus(settings, mix_services() if lifecycle else {AgencyKind.CUSTOMS: CustomsService})
    await bus.start(agencies)  # provisions the streams too
    logs = [log.with_suffix(f".{n}.log") for n in range(replicas)]
    coordinators = [CoordinatorProcess(settings, bus.nats_url, path) for path in logs]
    for coordinator in coordinators:
        coordinator.start()
    nc = await nats.connect(bus.nats_url)
    try:
        js = nc.jetstream()
        for coordinator in coordinators:
            await coordinator.ready(js)
        customs = bus.services[SENDER]
        assert isinstance(customs, CustomsService)
        count = len(workload.bodies)
        cases = [new_ulid() for _ in range(200)]
        # only a party may restate a case (DESIGN §4a): customs opens every case first
        async with customs.unit_of_work() as uow:
            for n, case_id in enumerate(cases):
                await customs.open_case(
                    uow, case_id=case_id, local_ref=f"SH-CUS-2026-{n:05d}", title="bench case"
                )
        await publish_all(js, workload.opening_subjects, workload.openings, workload.opening_ids)
        await _all_sent(bus)
        await drained(js)

        # 1. adapters → outboxes → relays → JetStream → coordinator (and agencies' consumers)
        meter = CpuMeter(
            {
                "agencies": os.getpid(),
                "coordinator": [c.pid for c in coordinators],
                "nats-server": nats_pid,
            },
            postgres=settings.database_url is not None,
        )
        with meter:
            started = time.perf_counter()
            if lifecycle:
                counts = await play_mix(bus, cases=round(count / LIFECYCLE_EVENTS_PER_CASE))
                carried = counts.agency_events
            else:
                for first in range(0, count, EMIT_BATCH):
                    async with customs.unit_of_work() as uow:
                        for index in range(first, min(first + EMIT_BATCH, count)):
                            uow.emit(_status(index), to=COORDINATOR, case_id=cases[index % 200])
                carried = count
            await _all_sent(bus)
            await drained(js)
            await consumers_drained(js, [agency_consumer(a) for a in agencies])
            ipbus_eps = carried / (time.perf_counter() - started)

        # 2. pre-signed events published by a fast agency system straight to JetStream
        started = time.perf_counter()
        await publish_all(js, workload.subjects, workload.bodies, workload.ids)
        await drained(js)
        ingest_eps = count / (time.perf_counter() - started)

        # 3. latency: one event per transaction at a fixed offered load, from the adapter's
        # commit to the coordinator's commit
        total = int(offered_eps * latency_seconds)
        emitted_at: dict[str, datetime] = {}
        interval = 1 / offered_eps
        next_tick = time.perf_counter()
        lone = CpuMeter(
            {"customs": os.getpid(), "coordinator": [c.pid for c in coordinators]},
            postgres=settings.database_url is not None,
        )
        with lone:
            for index in range(total):
                async with customs.unit_of_work() as uow:
                    envelope = uow.emit(_status(index), to=COORDINATOR, case_id=cases[index % 200])
                emitted_at[envelope.id] = datetime.now(UTC)
                next_tick += interval
                await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
            await _all_sent(bus)
            await drained(js)
        await asyncio.sleep(0.5)  # the last batch's log line is written after its commit
        committed = committed_at(logs, list(emitted_at))
        assert len(committed) == total, f"{total - len(committed)} events not applied"
        latencies = sorted(
            (as_utc(committed[i]) - t).total_seconds() * 1000 for i, t in emitted_at.items()
        )
        cuts = statistics.quantiles(latencies, n=100)
        return IpbusResult(
            ipbus_eps=ipbus_eps,
            ingest_eps=ingest_eps,
            p50_ms=cuts[49],
            p95_ms=cuts[94],
            p99_ms=cuts[98],
            offered_eps=offered_eps,
            rss_mb=max(rss_mb(c.pid) for c in coordinators),
            events=carried,
            cpu=meter.use,
            latency_cpu=lone.use,
            latency_events=total,
        )
    finally:
        await nc.close()
        for coordinator in coordinators:
            coordinator.stop()
        await bus.stop()
