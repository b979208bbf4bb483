"""``ipbus bench``: ipbus against raw JetStream, side by side, on this machine."""

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer

from services.runtime.settings import Settings

__all__ = ["bench"]


def bench(
    quick: Annotated[bool, typer.Option(help="a short run (under 2 minutes)")] = False,
    events: Annotated[int | None, typer.Option(help="events per measurement")] = None,
    database: Annotated[str, typer.Option(help="sqlite, postgresql, or both")] = "sqlite",
) -> None:
    """Measure throughput and latency against a raw nats-py baseline; last line is JSON."""
    from bench.run import report_json, run_bench

    if database not in ("sqlite", "postgresql", "both"):
        raise typer.BadParameter("choose sqlite, postgresql or both", param_hint="--database")
    count = events or (5_000 if quick else 20_000)
    latency_seconds = 5.0 if quick else 20.0
    databases: list[Literal["sqlite", "postgresql"]] = (
        ["sqlite", "postgresql"] if database == "both" else [database]  # type: ignore[list-item]
    )
    registry = Settings().registry_path
    reports = []
    for name in databases:
        report = asyncio.run(
            run_bench(
                registry_path=Path(registry),
                events=count,
                database=name,
                latency_seconds=latency_seconds,
            )
        )
        print(report.table(), flush=True)
        reports.append(report)
    for report in reports:
        print(report_json(report), flush=True)
