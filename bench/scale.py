"""Scale: a coordinator process fed ``events`` signed events, then queried, then restarted.

The coordinator runs as its own process (``ipbus run coordinator``), so its memory is its
own: RSS is read from ``/proc`` at every step of the ingest. Events are signed and
published by this process in chunks while the coordinator applies them; progress is the
durable consumer's own count of what is still pending. Each case is opened by a
``case.opened`` before it is restated (only a party may write about a case, DESIGN §4a): one
more event per ``EVENTS_PER_CASE``, inside the timed ingest and counted as applied. Every
100,000 events the bench runs ``VACUUM (ANALYZE)`` on the coordinator's tables, as
autovacuum would on a production server (it is off on this machine's PostgreSQL: without it
the planner never learns the tables grew and the rows every event rewrites pile up).
"""

import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats

from bench.baseline import publish_all
from bench.processes import CoordinatorProcess, drained, pending, rss_mb, vacuum_analyze
from bench.workload import SENDER, make_workload
from contracts.queries import CASE_QUERY, CaseQuery, CaseReply
from contracts.subjects import QUERY_PREFIX
from services.runtime.identity import AgencyKey, Settings

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
    coordinator = CoordinatorProcess(settings, nats_url, log)
    coordinator.start()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await coordinator.ready(js)
        case_ids: list[str] = []
        rss: list[tuple[int, float]] = [(0, rss_mb(coordinator.pid))]
        started = time.perf_counter()
        published = opened = 0
        while published < events:
            count = min(CHUNK, events - published)
            workload = make_workload(
                count, key, cases=max(1, count // EVENTS_PER_CASE), first=published
            )
            case_ids.extend(workload.case_ids)
            await publish_all(
                js, workload.opening_subjects, workload.openings, workload.opening_ids
            )
            await publish_all(js, workload.subjects, workload.bodies, workload.ids)
            published += count
            opened += len(workload.openings)
            if published % 100_000 < CHUNK or published == events:
                applied = published + opened - await pending(js)
                rss.append((applied, rss_mb(coordinator.pid)))
                await vacuum_analyze(settings)
        await drained(js)
        ingest_eps = events / (time.perf_counter() - started)
        rss.append((events, rss_mb(coordinator.pid)))
        await vacuum_analyze(settings)

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
        await publish_all(js, workload.opening_subjects, workload.openings, workload.opening_ids)
        await publish_all(js, workload.subjects, workload.bodies, workload.ids)
        started = time.perf_counter()
        coordinator.start()
        await drained(js)
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
