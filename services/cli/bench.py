"""``ipbus bench``: ipbus against raw JetStream, side by side, on this machine."""

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer

from services.runtime.identity import Settings

__all__ = ["bench"]


def bench(
    quick: Annotated[bool, typer.Option(help="a short run (under 2 minutes)")] = False,
    events: Annotated[int | None, typer.Option(help="events per measurement")] = None,
    database: Annotated[
        str, typer.Option(help="sqlite, postgresql, both, or none (with --scale: scale only)")
    ] = "sqlite",
    scale: Annotated[
        int, typer.Option(help="also ingest this many events into a coordinator on PostgreSQL")
    ] = 0,
    mix: Annotated[
        str,
        typer.Option(
            help="lifecycle (cases, referrals with deadlines, warnings acknowledged) "
            "or status (status changes only)"
        ),
    ] = "lifecycle",
    replicas: Annotated[
        int, typer.Option(min=1, max=8, help="coordinator processes on one database")
    ] = 1,
    partitions: Annotated[
        int, typer.Option(min=1, max=16, help="partitions of the coordinator's work by case")
    ] = 4,
    catch_up: Annotated[
        int, typer.Option(help="events a restarted coordinator catches up on (with --scale)")
    ] = 100_000,
) -> None:
    """Measure throughput and latency against a raw nats-py baseline; last line is JSON."""
    from bench.run import report_json, run_bench, run_scale_bench

    if database not in ("sqlite", "postgresql", "both", "none"):
        raise typer.BadParameter("choose sqlite, postgresql, both or none", param_hint="--database")
    if mix not in ("lifecycle", "status"):
        raise typer.BadParameter("choose lifecycle or status", param_hint="--mix")
    count = events or (5_000 if quick else 20_000)
    latency_seconds = 5.0 if quick else 20.0
    databases: list[Literal["sqlite", "postgresql"]] = {  # type: ignore[assignment]
        "both": ["sqlite", "postgresql"],
        "none": [],
    }.get(database, [database])
    registry = Path(Settings().registry_path)
    reports = []
    for name in databases:
        report = asyncio.run(
            run_bench(
                registry_path=registry,
                events=count,
                database=name,
                latency_seconds=latency_seconds,
                mix=mix,
                replicas=replicas,
                partitions=partitions,
            )
        )
        print(report.table(), flush=True)
        reports.append(report)
    if scale:
        scaled = asyncio.run(
            run_scale_bench(registry_path=registry, events=scale, catch_up=min(catch_up, scale))
        )
        print(scaled.table(), flush=True)
    for report in reports:
        print(report_json(report), flush=True)
