"""The ipbus path: an adapter's outbox → JetStream → the coordinator, with every check on.

Validation, signature verification, inbox, case file and timeline writes all happen, as
in production. A coordinator subclass only notes when each event's transaction committed.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import nats

from bench.baseline import publish_all
from bench.workload import SENDER, Workload
from contracts.agencies import AgencyKind
from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.envelope import Event
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from services.coordinator.app import CoordinatorService
from services.customs.app import CustomsService
from services.runtime.adapter import ServiceContext
from services.runtime.bootstrap import Bus
from services.runtime.metrics import Outcome
from services.runtime.settings import Settings

__all__ = ["IpbusResult", "run_ipbus"]

EMIT_BATCH = 100
"""Events an adapter commits per transaction in the throughput run."""


class TimedCoordinator(CoordinatorService):
    """The real coordinator, noting the moment each event's effects were committed."""

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        self.applied_at: dict[str, float] = {}
        self.expected = 0
        self.all_applied = asyncio.Event()

    async def _apply_all(self, events: list[Event]) -> list[Outcome]:
        outcomes = await super()._apply_all(events)
        committed_at = time.perf_counter()
        for event in events:
            self.applied_at[event.id] = committed_at
        if len(self.applied_at) >= self.expected:
            self.all_applied.set()
        return outcomes

    def expect(self, count: int) -> None:
        self.applied_at.clear()
        self.expected = count
        self.all_applied.clear()


@dataclass(frozen=True, slots=True)
class IpbusResult:
    ipbus_eps: float
    ingest_eps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    offered_eps: int
    rss_mb: float


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _status(index: int) -> CaseStatusChanged:
    return CaseStatusChanged(
        local_ref=f"SH-CUS-2026-{index % 200:05d}",
        status=CaseStatus.INVESTIGATING,
        note=f"inspection round {index // 200}",
    )


async def run_ipbus(
    settings: Settings,
    workload: Workload,
    *,
    offered_eps: int,
    latency_seconds: float,
) -> IpbusResult:
    """Throughput through an adapter, ingest of pre-signed events, latency at a fixed load."""
    catalogue = {AgencyKind.COORDINATOR: TimedCoordinator, AgencyKind.CUSTOMS: CustomsService}
    bus = Bus(settings, catalogue)
    await bus.start([COORDINATOR, SENDER])
    try:
        coordinator = bus.services[COORDINATOR]
        customs = bus.services[SENDER]
        assert isinstance(coordinator, TimedCoordinator)
        assert isinstance(customs, CustomsService)
        count = len(workload.bodies)
        cases = [new_ulid() for _ in range(200)]

        # 1. adapter → outbox → relay → JetStream → coordinator
        coordinator.expect(count)
        started = time.perf_counter()
        for first in range(0, count, EMIT_BATCH):
            async with customs.unit_of_work() as uow:
                for index in range(first, min(first + EMIT_BATCH, count)):
                    uow.emit(_status(index), to=COORDINATOR, case_id=cases[index % 200])
        await coordinator.all_applied.wait()
        ipbus_eps = count / (time.perf_counter() - started)

        # 2. pre-signed events published by a fast agency system straight to JetStream
        coordinator.expect(count)
        nc = await nats.connect(bus.nats_url)
        try:
            started = time.perf_counter()
            await publish_all(nc.jetstream(), workload.subject, workload.bodies, workload.ids)
            await coordinator.all_applied.wait()
            ingest_eps = count / (time.perf_counter() - started)
        finally:
            await nc.close()

        # 3. latency: one event per transaction at a fixed offered load
        total = int(offered_eps * latency_seconds)
        coordinator.expect(total)
        emitted_at: dict[str, float] = {}
        interval = 1 / offered_eps
        next_tick = time.perf_counter()
        for index in range(total):
            async with customs.unit_of_work() as uow:
                envelope = uow.emit(_status(index), to=COORDINATOR, case_id=cases[index % 200])
            emitted_at[envelope.id] = time.perf_counter()
            next_tick += interval
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        await coordinator.all_applied.wait()
        latencies = sorted((coordinator.applied_at[i] - t) * 1000 for i, t in emitted_at.items())
        cuts = statistics.quantiles(latencies, n=100)
        return IpbusResult(
            ipbus_eps=ipbus_eps,
            ingest_eps=ingest_eps,
            p50_ms=cuts[49],
            p95_ms=cuts[94],
            p99_ms=cuts[98],
            offered_eps=offered_eps,
            rss_mb=_rss_mb(),
        )
    finally:
        await bus.stop()
