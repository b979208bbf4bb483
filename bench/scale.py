"""Scale: a coordinator process fed ``events`` signed events, then queried, then restarted.

The coordinator runs as its own process (``ipbus run coordinator``), so its memory is its
own: RSS is read from ``/proc`` at every step of the ingest. Events are signed and
published by this process in chunks while the coordinator applies them; progress is the
durable consumer's own count of what is still pending.
"""

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.js import JetStreamContext

from bench.baseline import publish_all
from bench.workload import SENDER, make_workload
from contracts.queries import CASE_QUERY, CaseQuery, CaseReply
from contracts.subjects import EVENT_STREAM, QUERY_PREFIX
from services.runtime.settings import Settings
from services.runtime.signing import AgencyKey
from services.runtime.streams import COORDINATOR_CONSUMER

__all__ = ["ScaleReport", "run_scale"]

CHUNK = 10_000
"""Events signed and published at a time while the coordinator applies the previous ones."""
EVENTS_PER_CASE = 10
QUERIES = 1_000


@dataclass(slots=True)
class ScaleReport:
    events: int
    cases: int
    ingest_eps: float
    query_p50_ms: float
    query_p99_ms: float
    catch_up_events: int
    catch_up_eps: float
    rss_mb: list[tuple[int, float]] = field(default_factory=list)
    """(events applied, coordinator RSS in MB) along the ingest."""

    def table(self) -> str:
        steps = ", ".join(f"{n:,}: {mb:.0f}" for n, mb in self.rss_mb)
        return "\n".join(
            [
                f"ipbus scale — {self.events:,} events over {self.cases:,} cases, PostgreSQL",
                f"  ingest into one coordinator process: {self.ingest_eps:,.0f} events/s",
                f"  case query at {self.events:,} events: p50 {self.query_p50_ms:.1f} ms, "
                f"p99 {self.query_p99_ms:.1f} ms ({QUERIES} queries)",
                f"  catch-up after a restart behind {self.catch_up_events:,} events: "
                f"{self.catch_up_eps:,.0f} events/s",
                f"  coordinator RSS (MB) by events applied: {steps}",
            ]
        )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CoordinatorProcess:
    """``ipbus run coordinator`` with the bench's settings in its environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = env
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "run", "coordinator"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def _environment(settings: Settings, nats_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
    env.update(
        IPBUS_NATS_URL=nats_url,
        IPBUS_DATA_DIR=str(settings.data_dir),
        IPBUS_REGISTRY_PATH=str(settings.registry_path),
        IPBUS_DATABASE_SCHEMA_PREFIX=settings.database_schema_prefix,
        IPBUS_LOG_FORMAT="json",
        IPBUS_LOG_LEVEL="WARNING",
        IPBUS_HTTP_PORT="0",
    )
    if settings.database_url:
        env["IPBUS_DATABASE_URL"] = settings.database_url
    return env


async def _pending(js: JetStreamContext) -> int:
    info = await js.consumer_info(EVENT_STREAM, COORDINATOR_CONSUMER)
    return int(info.num_pending + info.num_ack_pending)


async def _drained(js: JetStreamContext, on_progress: Callable[[int], None] | None = None) -> None:
    while (left := await _pending(js)) > 0:
        if on_progress is not None:
            on_progress(left)
        await asyncio.sleep(0.5)


async def run_scale(
    settings: Settings,
    nats_url: str,
    key: AgencyKey,
    *,
    events: int,
    catch_up: int,
    log: Path,
) -> ScaleReport:
    """Ingest, query, restart behind ``catch_up`` events; the coordinator is a child process."""
    cases = max(1, events // EVENTS_PER_CASE)
    coordinator = CoordinatorProcess(_environment(settings, nats_url), log)
    coordinator.start()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        while True:  # the coordinator has created its consumer
            try:
                await _pending(js)
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.2)
        case_ids: list[str] = []
        rss: list[tuple[int, float]] = [(0, _rss_mb(coordinator.pid))]
        started = time.perf_counter()
        published = 0
        while published < events:
            count = min(CHUNK, events - published)
            workload = make_workload(
                count, key, cases=max(1, count // EVENTS_PER_CASE), first=published
            )
            case_ids.extend(workload.case_ids)
            await publish_all(js, workload.subject, workload.bodies, workload.ids)
            published += count
            if published % 100_000 < CHUNK or published == events:
                applied = published - await _pending(js)
                rss.append((applied, _rss_mb(coordinator.pid)))
        await _drained(js)
        ingest_eps = events / (time.perf_counter() - started)
        rss.append((events, _rss_mb(coordinator.pid)))

        latencies = []
        for case_id in random.sample(case_ids, min(QUERIES, len(case_ids))):
            query = CaseQuery(case_id=case_id).model_dump_json().encode()
            began = time.perf_counter()
            reply = await nc.request(f"{QUERY_PREFIX}.{SENDER}.{CASE_QUERY}", query, timeout=5)
            latencies.append((time.perf_counter() - began) * 1000)
            answer = CaseReply.model_validate_json(reply.data)
            assert answer.case is not None, answer.error
        cuts = statistics.quantiles(latencies, n=100)

        coordinator.stop()
        workload = make_workload(
            catch_up, key, cases=max(1, catch_up // EVENTS_PER_CASE), first=events
        )
        await publish_all(js, workload.subject, workload.bodies, workload.ids)
        started = time.perf_counter()
        coordinator.start()
        await _drained(js)
        catch_up_eps = catch_up / (time.perf_counter() - started)
        return ScaleReport(
            events=events,
            cases=cases,
            ingest_eps=ingest_eps,
            query_p50_ms=cuts[49],
            query_p99_ms=cuts[98],
            catch_up_events=catch_up,
            catch_up_eps=catch_up_eps,
            rss_mb=rss,
        )
    finally:
        await nc.close()
        coordinator.stop()
