"""The ipbus path: an adapter's outbox → JetStream → the coordinator, with every check on.

The coordinator runs as its own process (``ipbus run coordinator``), as a deployment runs
it: validation, signature verification, inbox, case file, timeline and audit writes all
happen, and every applied batch is logged at INFO (one line naming its events). The
adapter (customs, the real :class:`CustomsService`: unit of work, outbox, relay) runs in
this process.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats

from bench.baseline import publish_all
from bench.processes import CoordinatorProcess, applied_at, drained, rss_mb
from bench.workload import SENDER, Workload
from contracts.agencies import AgencyKind
from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from services.customs.app import CustomsService
from services.runtime.bus import unsent_count
from services.runtime.identity import Settings
from services.runtime.storage import as_utc
from services.sdk import Bus

__all__ = ["IpbusResult", "run_ipbus"]

EMIT_BATCH = 100
"""Events an adapter commits per transaction in the throughput run."""


@dataclass(frozen=True, slots=True)
class IpbusResult:
    ipbus_eps: float
    ingest_eps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    offered_eps: int
    rss_mb: float


def _status(index: int) -> CaseStatusChanged:
    return CaseStatusChanged(
        local_ref=f"SH-CUS-2026-{index % 200:05d}",
        status=CaseStatus.INVESTIGATING,
        note=f"inspection round {index // 200}",
    )


async def _all_sent(customs: CustomsService) -> None:
    while True:
        async with customs.database.transaction() as session:
            if await unsent_count(session) == 0:
                return
        await asyncio.sleep(0.05)


async def run_ipbus(
    settings: Settings,
    workload: Workload,
    *,
    offered_eps: int,
    latency_seconds: float,
    log: Path,
) -> IpbusResult:
    """Throughput through an adapter, ingest of pre-signed events, latency at a fixed load."""
    bus = Bus(settings, {AgencyKind.CUSTOMS: CustomsService})
    await bus.start([SENDER])  # provisions the streams too
    coordinator = CoordinatorProcess(settings, bus.nats_url, log)
    coordinator.start()
    nc = await nats.connect(bus.nats_url)
    try:
        js = nc.jetstream()
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
        await publish_all(js, workload.opening_subject, workload.openings, workload.opening_ids)
        await _all_sent(customs)
        await drained(js)

        # 1. adapter → outbox → relay → JetStream → coordinator
        started = time.perf_counter()
        for first in range(0, count, EMIT_BATCH):
            async with customs.unit_of_work() as uow:
                for index in range(first, min(first + EMIT_BATCH, count)):
                    uow.emit(_status(index), to=COORDINATOR, case_id=cases[index % 200])
        await _all_sent(customs)
        await drained(js)
        ipbus_eps = count / (time.perf_counter() - started)

        # 2. pre-signed events published by a fast agency system straight to JetStream
        started = time.perf_counter()
        await publish_all(js, workload.subject, workload.bodies, workload.ids)
        await drained(js)
        ingest_eps = count / (time.perf_counter() - started)

        # 3. latency: one event per transaction at a fixed offered load
        total = int(offered_eps * latency_seconds)
        emitted_at: dict[str, datetime] = {}
        interval = 1 / offered_eps
        next_tick = time.perf_counter()
        for index in range(total):
            async with customs.unit_of_work() as uow:
                envelope = uow.emit(_status(index), to=COORDINATOR, case_id=cases[index % 200])
            emitted_at[envelope.id] = datetime.now(UTC)
            next_tick += interval
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        await _all_sent(customs)
        await drained(js)
        applied = await applied_at(settings, list(emitted_at))
        assert len(applied) == total, f"{total - len(applied)} events not applied"
        latencies = sorted(
            (as_utc(applied[i]) - t).total_seconds() * 1000 for i, t in emitted_at.items()
        )
        cuts = statistics.quantiles(latencies, n=100)
        return IpbusResult(
            ipbus_eps=ipbus_eps,
            ingest_eps=ingest_eps,
            p50_ms=cuts[49],
            p95_ms=cuts[94],
            p99_ms=cuts[98],
            offered_eps=offered_eps,
            rss_mb=rss_mb(coordinator.pid),
        )
    finally:
        await nc.close()
        coordinator.stop()
        await bus.stop()
