"""``ipbus``: run the bus, one service, the demo, or look at a case (DESIGN §7)."""

import asyncio
import signal
import time
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import nats
import typer
from prometheus_client import CollectorRegistry
from rich.console import Console

from contracts.subjects import COORDINATOR
from services.cli.catalogue import CATALOGUE, SERVICES
from services.cli.demo import DemoFailed, run_demo
from services.cli.ops import serving_http
from services.cli.render import case_table
from services.cli.status import status
from services.runtime.bootstrap import Bus, bootstrap, provision_streams
from services.runtime.errors import ConfigurationError, RetryableError
from services.runtime.logging import configure_logging
from services.runtime.metrics import IpbusMetrics
from services.runtime.queries import query_case
from services.runtime.registry import prepare_registry
from services.runtime.settings import Settings
from services.runtime.streams import StreamLayout

__all__ = ["app"]

T = TypeVar("T")

app = typer.Typer(
    help="ipbus: the inter-agency IP-protection coordination bus.", no_args_is_help=True
)
case_app = typer.Typer(help="Look at shared case files.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.command()(status)
console = Console(soft_wrap=True)


def _say(line: str) -> None:
    print(line, flush=True)  # plain print: timeline lines must not be re-wrapped


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@app.command()
def up() -> None:
    """Run the whole bus on this machine until Ctrl-C: NATS (embedded unless
    IPBUS_NATS_URL is set) and one service per agency in the registry."""
    settings = Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)

    async def main() -> None:
        bus = Bus(settings, CATALOGUE)
        try:
            await bus.start()
            async with serving_http(settings, bus.services, bus.metrics.registry) as url:
                console.print(
                    f"ipbus is up on {bus.nats_url} with {len(bus.services)} services "
                    f"(data in {settings.data_dir}; metrics and health on {url}); "
                    "Ctrl-C stops it."
                )
                await _until_stopped()
        finally:
            await bus.stop()

    _run(main())


@app.command()
def run(
    service: Annotated[str, typer.Argument(help=f"one of: {', '.join(SERVICES)}")],
    agency: Annotated[
        str | None, typer.Option(help="agency id (default: the only agency of that kind)")
    ] = None,
) -> None:
    """Run one service for one agency: the production shape (needs IPBUS_NATS_URL)."""
    settings = Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if service not in SERVICES:
        raise _fail(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    if settings.nats_url is None:
        raise _fail("set IPBUS_NATS_URL to the NATS server to join (ipbus up embeds one)")
    registry = prepare_registry(
        settings.registry_path, settings.keys_dir, settings.effective_registry_path
    )
    kind = SERVICES[service]
    if agency is None:
        candidates = registry.of_kind(kind)
        if len(candidates) != 1:
            raise _fail(
                f"{len(candidates)} agencies of kind {kind.value}; name one with --agency "
                f"({', '.join(a.id for a in candidates)})"
            )
        agency = candidates[0].id
    if registry.get(agency).kind is not kind:
        raise _fail(f"{agency} is not of kind {kind.value}")
    nats_url = settings.nats_url

    async def main() -> None:
        await provision_streams(nats_url, StreamLayout(replicas=settings.stream_replicas))
        metrics = IpbusMetrics(CollectorRegistry())
        instance = bootstrap(
            CATALOGUE[kind],
            settings=settings,
            registry=registry,
            agency_id=agency,
            nats_url=nats_url,
            metrics=metrics,
        )
        await instance.start()
        try:
            async with serving_http(settings, {agency: instance}, metrics.registry):
                await _until_stopped()
        finally:
            await instance.stop()

    _run(main())


@app.command()
def demo(
    pace: Annotated[float, typer.Option(help="seconds to pause between steps")] = 0.4,
) -> None:
    """Start the bus, play a seizure → referral → penalty scenario, and check it."""
    settings = Settings()
    log_file = settings.data_dir / "logs" / "demo.log"
    configure_logging(level=settings.log_level, fmt="json", file=log_file)

    async def main() -> None:
        started = time.perf_counter()
        bus = Bus(settings, CATALOGUE)
        try:
            await bus.start()
            console.print(
                f"ipbus demo: {len(bus.services)} services on {bus.nats_url}; "
                f"logs in {log_file}; effective registry in {settings.effective_registry_path}"
            )
            await run_demo(bus, _say, pace=pace)
        finally:
            await bus.stop()
        console.print(f"demo finished in {time.perf_counter() - started:.1f}s")

    try:
        _run(main())
    except DemoFailed as exc:
        console.print(f"[red]DEMO FAILED:[/red] {exc}")
        raise typer.Exit(code=1) from None


@case_app.command("show")
def case_show(
    case_id: str,
    as_agency: Annotated[
        str, typer.Option("--as", help="ask as this agency (need-to-know applies)")
    ] = COORDINATOR,
) -> None:
    """Print one case's shared status and timeline (asks the coordinator over NATS)."""
    settings = Settings()
    if settings.nats_url is None:
        raise _fail("set IPBUS_NATS_URL to the bus's NATS server (ipbus up prints it)")
    nats_url = settings.nats_url

    async def main() -> int:
        nc = await nats.connect(nats_url, name="ipbus-cli")
        try:
            reply = await query_case(nc, requester=as_agency, case_id=case_id)
        finally:
            await nc.close()
        if reply.case is None:
            console.print(f"[red]{reply.error}[/red]")
            return 1
        case_table(reply.case, console)
        return 0

    code = _run(main())
    raise typer.Exit(code=code or 0)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning configuration errors into one readable line."""
    try:
        return asyncio.run(coroutine)
    except (ConfigurationError, RetryableError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
