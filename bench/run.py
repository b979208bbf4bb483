"""One benchmark run: its own nats-server and database, baseline and ipbus side by side."""

import json
import os
import platform
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.baseline import IN_FLIGHT, run_baseline
from bench.cpu import CpuMeter
from bench.ipbus_path import run_ipbus
from bench.processes import bench_policy
from bench.scale import ScaleReport, run_scale
from bench.workload import SENDER, make_workload
from services.runtime.bus import DEFAULT_PARTITIONS
from services.runtime.identity import AgencyKey, Settings, key_path, prepare_registry
from services.runtime.ops import configure_logging
from services.runtime.server import EmbeddedNatsServer, free_port

__all__ = ["BenchReport", "run_bench", "run_scale_bench"]

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class BenchReport:
    database: str
    events: int
    event_bytes: float
    baseline_eps: float
    ipbus_eps: float
    ratio: float
    ingest_eps: float
    offered_eps: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rss_mb: float
    machine: str
    date: str
    mix: str
    replicas: int
    partitions: int
    """Partitions of the coordinator's work by case (one durable consumer each)."""
    cpu_ms_per_event: dict[str, float]
    """CPU per carried event in the throughput run, per process: ``agencies`` (the
    adapters, in the bench's process), ``coordinator``, ``nats-server``, ``postgres``."""
    baseline_cpu_ms: float
    """CPU per event of the baseline run (its client and nats-server)."""
    machine_busy: float
    """Share of every core's time that was busy in the throughput run (1.0: saturated)."""
    ceiling_eps: float
    """What the cores allow at that CPU per event: ``1000 * cores / sum(cpu_ms_per_event)``."""
    lone_cpu_ms_per_event: dict[str, float]
    """CPU per event in the latency run (one event per adapter transaction, at
    ``offered_eps``): what a lone event costs ``customs`` (its unit of work and relay, in
    the bench's process) and the ``coordinator``; batches there hold one to a few events."""

    def table(self) -> str:
        return "\n".join(
            [
                f"ipbus bench — {self.database}, {self.mix} mix, {self.events} events of "
                f"{self.event_bytes:.0f} bytes, {self.replicas} coordinator replica(s) on "
                f"{self.partitions} partition(s), {self.machine}, {self.date}",
                f"  baseline (raw nats-py, {IN_FLIGHT} in flight, pull+ack): "
                f"{self.baseline_eps:>9,.0f} events/s",
                f"  ipbus (adapters' outboxes → JetStream → coordinator): "
                f"{self.ipbus_eps:>9,.0f} events/s   ratio {self.ratio:.1%}",
                f"  ipbus ingest (pre-signed, {IN_FLIGHT} in flight → coordinator):  "
                f"{self.ingest_eps:>9,.0f} events/s",
                f"  commit to commit at {self.offered_eps} events/s: p50 {self.p50_ms:.1f} ms, "
                f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms",
                f"  coordinator process RSS after the run: {self.rss_mb:.0f} MB",
                "  CPU per carried event: "
                + ", ".join(f"{n} {ms:.2f} ms" for n, ms in self.cpu_ms_per_event.items())
                + f" (baseline {self.baseline_cpu_ms:.2f} ms); cores "
                f"{self.machine_busy:.0%} busy; what {_cores()} cores allow at that cost: "
                f"{self.ceiling_eps:,.0f} events/s, "
                f"ratio {self.ceiling_eps / self.baseline_eps:.1%}",
                f"  CPU per event at {self.offered_eps} events/s, one per transaction: "
                + ", ".join(f"{n} {ms:.2f} ms" for n, ms in self.lone_cpu_ms_per_event.items()),
            ]
        )


async def run_bench(
    *,
    registry_path: Path,
    events: int,
    database: str,
    offered_eps: int = 500,
    latency_seconds: float = 10.0,
    mix: str = "lifecycle",
    replicas: int = 1,
    partitions: int = DEFAULT_PARTITIONS,
) -> BenchReport:
    """Start a fresh nats-server, measure the baseline, then ipbus on ``database``."""
    with tempfile.TemporaryDirectory(prefix="ipbus-bench-") as scratch:
        root = Path(scratch)
        settings = Settings(
            data_dir=root / "var",
            registry_path=registry_path,
            database_url=POSTGRES_URL if database == "postgresql" else None,
            database_schema_prefix=f"bench{uuid.uuid4().hex[:8]}_",
            outbox_poll_seconds=0.5,
            http_port=0,
            partitions=partitions,
            policy_path=bench_policy(root),
        )
        # the production default: every applied event logged at INFO, as JSON, to a file
        configure_logging(level="INFO", fmt="json", file=root / "services.log")
        prepare_registry(
            settings.registry_path, settings.keys_dir, settings.effective_registry_path
        )
        key = AgencyKey(key_path(settings.keys_dir, SENDER).read_bytes())
        workload = make_workload(events, key)
        async with EmbeddedNatsServer(root / "nats", port=free_port()) as server:
            with CpuMeter({"client": os.getpid(), "nats-server": server.pid}) as baseline:
                baseline_eps = await run_baseline(server.url, workload)
            result = await run_ipbus(
                settings.model_copy(update={"nats_url": server.url}),
                workload,
                offered_eps=offered_eps,
                latency_seconds=latency_seconds,
                log=root / "coordinator.log",
                nats_pid=server.pid,
                mix=mix,
                replicas=replicas,
            )
        carried_ms = result.cpu.ms_per_event(result.events)
        return BenchReport(
            database=database,
            events=result.events,
            event_bytes=workload.mean_bytes,
            baseline_eps=baseline_eps,
            ipbus_eps=result.ipbus_eps,
            ratio=result.ipbus_eps / baseline_eps,
            ingest_eps=result.ingest_eps,
            offered_eps=offered_eps,
            p50_ms=result.p50_ms,
            p95_ms=result.p95_ms,
            p99_ms=result.p99_ms,
            rss_mb=result.rss_mb,
            machine=f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
            mix=mix,
            replicas=replicas,
            partitions=partitions,
            cpu_ms_per_event={name: round(ms, 3) for name, ms in carried_ms.items()},
            baseline_cpu_ms=sum(baseline.use.ms_per_event(len(workload.bodies)).values()),
            machine_busy=result.cpu.machine_busy,
            ceiling_eps=result.cpu.ceiling_eps(result.events, _cores()),
            lone_cpu_ms_per_event={
                name: round(ms, 3)
                for name, ms in result.latency_cpu.ms_per_event(result.latency_events).items()
            },
        )


def _cores() -> int:
    return os.cpu_count() or 0


def report_json(report: BenchReport) -> str:
    """The machine-readable last line."""
    return json.dumps(asdict(report), separators=(",", ":"))


async def run_scale_bench(*, registry_path: Path, events: int, catch_up: int) -> ScaleReport:
    """A fresh nats-server and PostgreSQL schema; the coordinator as its own process."""
    with tempfile.TemporaryDirectory(prefix="ipbus-scale-") as scratch:
        root = Path(scratch)
        settings = Settings(
            data_dir=root / "var",
            registry_path=registry_path,
            database_url=POSTGRES_URL,
            database_schema_prefix=f"scale{uuid.uuid4().hex[:8]}_",
            policy_path=bench_policy(root),
        )
        prepare_registry(
            settings.registry_path, settings.keys_dir, settings.effective_registry_path
        )
        key = AgencyKey(key_path(settings.keys_dir, SENDER).read_bytes())
        async with EmbeddedNatsServer(root / "nats", port=free_port()) as server:
            return await run_scale(
                settings,
                server.url,
                key,
                events=events,
                catch_up=catch_up,
                log=root / "coordinator.log",
            )
