"""``ipbus status``: one screen an operator reads first.

Consumer lag comes straight from JetStream (so it works even when services are down);
service readiness, overdue referrals and unacknowledged warnings from the process's
``/readyz`` and ``/metrics`` endpoints (the coordinator's gauges).
"""

from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from contracts.subjects import DLQ_STREAM, EVENT_STREAM
from services.cli.bus import operator_client, run_on_bus
from services.cli.render import JsonOption, print_json
from services.runtime.identity import Settings, read_bus_record

__all__ = [
    "ConsumerLag",
    "StatusReport",
    "gather_status",
    "read_metrics",
    "render_status",
    "status",
]


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    durable: str
    pending: int
    ack_pending: int
    redelivered: int


@dataclass(slots=True)
class StatusReport:
    """What ``ipbus status`` shows; ``None`` where the source could not be read."""

    consumers: list[ConsumerLag] = field(default_factory=list)
    dead_letters: int | None = None
    services: list[dict[str, Any]] | None = None
    overdue: dict[str, int] | None = None
    unacknowledged: dict[str, int] | None = None
    problems: list[str] = field(default_factory=list)


def read_metrics(text: str) -> tuple[dict[str, int], dict[str, int]]:
    """Overdue referrals by ``kind/stage`` and unacknowledged warnings by severity."""
    overdue: dict[str, int] = {}
    unacknowledged: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ipbus_referrals_overdue" and sample.value:
                key = f"{sample.labels['kind']}/{sample.labels['stage']}"
                overdue[key] = overdue.get(key, 0) + int(sample.value)
            elif sample.name == "ipbus_warnings_unacknowledged" and sample.value:
                severity = sample.labels["severity"]
                unacknowledged[severity] = unacknowledged.get(severity, 0) + int(sample.value)
    return overdue, unacknowledged


async def gather_status(settings: Settings, http_url: str | None) -> StatusReport:
    """Read JetStream as the operator, then the service endpoints (``None``: not served)."""
    report = StatusReport()
    async with operator_client(settings, name="ipbus-status") as nc:
        js = nc.jetstream()
        for info in await js.consumers_info(EVENT_STREAM):
            report.consumers.append(
                ConsumerLag(
                    info.name,
                    int(info.num_pending or 0),
                    int(info.num_ack_pending or 0),
                    int(info.num_redelivered or 0),
                )
            )
        report.dead_letters = (await js.stream_info(DLQ_STREAM)).state.messages
    if http_url is None:
        return report
    async with httpx.AsyncClient(base_url=http_url, timeout=5) as client:
        try:
            ready = await client.get("/readyz")
            report.services = ready.json()["services"]
            scrape = await client.get("/metrics")
            scrape.raise_for_status()
            report.overdue, report.unacknowledged = read_metrics(scrape.text)
        except Exception as exc:
            report.problems.append(f"service endpoints at {http_url}: {exc!r}")
    return report


def _http_url(settings: Settings, given: str | None) -> str | None:
    """``--http-url``, else what ``ipbus up`` recorded (None: it serves none), else the port."""
    if given is not None:
        return given
    record = read_bus_record(settings) if settings.nats_url is None else None
    if record is not None:
        return record.http_url
    return f"http://127.0.0.1:{settings.http_port}" if settings.http_port else None


def render_status(report: StatusReport, console: Console) -> None:
    if report.services is not None:
        table = Table(title="services")
        for column in ("agency", "service", "ready", "nats", "database", "consumer", "loops"):
            table.add_column(column)
        for s in report.services:
            mark = "[green]yes[/green]" if s["ready"] else "[red]NO[/red]"
            checks = (s["nats"], s["database"], s["consumer"], s.get("loops", "?"))
            table.add_row(s["agency"], s["service"], mark, *checks)
        console.print(table)
    if report.dead_letters is not None:  # JetStream was read
        lag = Table(title="consumer lag (JetStream)")
        for column in ("consumer", "pending", "ack pending", "redelivered"):
            lag.add_column(column, justify="right" if column != "consumer" else "left")
        for c in sorted(report.consumers, key=lambda c: c.durable):
            lag.add_row(c.durable, str(c.pending), str(c.ack_pending), str(c.redelivered))
        console.print(lag)
        console.print(f"dead letters on {DLQ_STREAM}: {report.dead_letters}")
    if report.overdue is not None:
        overdue = ", ".join(f"{k}: {n}" for k, n in sorted(report.overdue.items())) or "none"
        console.print(f"overdue referrals: {overdue}")
    if report.unacknowledged is not None:
        unacked = ", ".join(f"{k}: {n}" for k, n in sorted(report.unacknowledged.items()))
        console.print(f"unacknowledged warnings: {unacked or 'none'}")
    for problem in report.problems:
        console.print(f"[yellow]could not read[/yellow] {problem}")


def status(
    http_url: Annotated[
        str | None,
        typer.Option(
            help="a process's /metrics and /readyz (default: this host's IPBUS_HTTP_PORT)"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Services, consumer lag, overdue referrals and unacknowledged warnings at a glance."""
    settings = Settings()
    console = Console(soft_wrap=True)
    url = _http_url(settings, http_url)
    report = run_on_bus(gather_status(settings, url))
    if as_json:  # keys as in StatusReport; null where a source was not read or not served
        print_json(asdict(report) | {"http_url": url})
        raise typer.Exit(code=1 if report.problems else 0)
    render_status(report, console)
    if url is None:
        console.print("service endpoints: not served (IPBUS_HTTP_PORT=0); see --http-url")
    raise typer.Exit(code=1 if report.problems else 0)
