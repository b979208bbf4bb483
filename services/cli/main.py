"""``ipbus``: run the bus, one service, the demo, or look at a case (DESIGN §7)."""

import asyncio
import signal
import time
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from prometheus_client import CollectorRegistry
from rich.console import Console

from contracts.agencies import AgencyKind
from contracts.subjects import COORDINATOR
from services.cli.audit import audit_app
from services.cli.bench import bench
from services.cli.bus import asking_as, operator_client, run_on_bus
from services.cli.catalogue import CATALOGUE, SERVICES
from services.cli.choose import choose_service
from services.cli.db import db_app
from services.cli.demo import DemoFailed, demo_settings, run_demo
from services.cli.dlq import dlq_app
from services.cli.gateway_tokens import gateway_token_app
from services.cli.ops import serving_http
from services.cli.policy import policy_app
from services.cli.referrals import referrals
from services.cli.render import JsonOption, case_deadlines, case_table, print_json
from services.cli.scaffold import new_adapter
from services.cli.security import keys_app, nats_config
from services.cli.specs import specs_app
from services.cli.status import status
from services.cli.warnings import warnings_command
from services.gateway import GatewayServer, gateway_options
from services.runtime.bus import ConfigurationError, RetryableError
from services.runtime.identity import (
    Settings,
    announce_open_mode,
    forget_bus,
    load_agency_key,
    prepare_registry,
    record_bus,
    require_authentication,
)
from services.runtime.ops import IpbusMetrics, configure_logging, configure_tracing, get_logger
from services.sdk import (
    Bus,
    agency_connection,
    bootstrap,
    provision_streams,
    query_case,
    query_referrals,
    stream_layout,
)

__all__ = ["app"]

T = TypeVar("T")

app = typer.Typer(
    help="ipbus: the inter-agency IP-protection coordination bus.", no_args_is_help=True
)
case_app = typer.Typer(help="Look at shared case files.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.command()(bench)
app.add_typer(audit_app, name="audit")
app.command("nats-config")(nats_config)
app.add_typer(keys_app, name="keys")
app.add_typer(specs_app, name="specs")
app.add_typer(policy_app, name="policy")
app.command("new-adapter")(new_adapter)
app.command("warnings")(warnings_command)
app.command("referrals")(referrals)
app.add_typer(dlq_app, name="dlq")
app.add_typer(gateway_token_app, name="gateway-token")
app.add_typer(db_app, name="db")
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
    try:
        configure_tracing("bus", "all")  # spans exported only with OTEL_EXPORTER_OTLP_ENDPOINT
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None

    async def main() -> None:
        bus = Bus(settings, CATALOGUE)
        try:
            await bus.start()
            banner = announce_open_mode(settings, bus.metrics, bus.nats_url)
            if banner is not None:
                console.print(f"[bold red]{banner}[/bold red]")
                get_logger("up", "bus").warning("open mode", banner=banner)
            async with serving_http(settings, bus.services, bus.metrics.registry) as url:
                # the other commands (status, dlq, case show, ...) find the bus here
                record_bus(settings, bus.nats_url, url if settings.http_port else None)
                console.print(
                    f"ipbus is up on {bus.nats_url} with {len(bus.services)} services "
                    f"(data in {settings.data_dir}; metrics and health on {url}); "
                    "Ctrl-C stops it."
                )
                await _until_stopped()
        finally:
            forget_bus(settings)
            await bus.stop()

    _run(main())


@app.command()
def run(
    service: Annotated[str, typer.Argument(help=f"one of: {', '.join(SERVICES)}, or an adapter")],
    agency: Annotated[
        str | None, typer.Option(help="agency id (default: the only agency it runs)")
    ] = None,
    gateway_port: Annotated[
        int | None, typer.Option(help="also serve the agency-side HTTP gateway on this port")
    ] = None,
    gateway_host: Annotated[str, typer.Option(help="address the gateway binds")] = "127.0.0.1",
) -> None:
    """Run one service for one agency: the production shape (needs IPBUS_NATS_URL).

    IPBUS_ENV is ``production`` here unless set: authentication is required and no key is
    ever generated (SECURITY.md)."""
    settings = run_settings(Settings())
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if settings.nats_url is None:
        raise _fail("set IPBUS_NATS_URL to the NATS server to join (ipbus up embeds one)")
    try:
        require_authentication(settings)
        registry = prepare_registry(
            settings.registry_path,
            settings.keys_dir,
            settings.effective_registry_path,
            generate_keys=not settings.production,
        )
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    try:
        service_cls, agency_id = choose_service(registry, service, agency)
        configure_tracing(service_cls.service_name, agency_id)  # on with OTEL_EXPORTER_OTLP_*
        if settings.production:  # its own key, made at its site: say so before connecting
            load_agency_key(registry, settings.keys_dir, agency_id)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    nats_url = settings.nats_url

    async def main() -> None:
        hub = registry.get(agency_id).kind is AgencyKind.COORDINATOR
        site = settings.hub_domain is not None  # a leaf-node site declares its own streams
        if hub or site or not settings.nkey_auth:  # streams: the hub's job
            await provision_streams(
                nats_url,
                stream_layout(settings),
                connection=agency_connection(settings, agency_id),
                settings=settings,
                site=agency_id if site else None,
            )
        metrics = IpbusMetrics(CollectorRegistry())
        banner = announce_open_mode(settings, metrics, nats_url)
        if banner is not None:
            console.print(f"[bold red]{banner}[/bold red]")
        instance = bootstrap(
            service_cls,
            settings=settings,
            registry=registry,
            agency_id=agency_id,
            nats_url=nats_url,
            metrics=metrics,
        )
        await instance.start()
        gateway = None
        try:
            if gateway_port is not None:
                gateway = GatewayServer(
                    instance,
                    host=gateway_host,
                    port=gateway_port,
                    **gateway_options(settings),
                )
                await gateway.start()
                console.print(f"gateway of {agency_id} on {gateway.url} (OpenAPI: /docs)")
            async with serving_http(settings, {agency_id: instance}, metrics.registry):
                await _until_stopped()
        finally:
            if gateway is not None:
                await gateway.stop()
            await instance.stop()

    _run(main())


def run_settings(settings: Settings) -> Settings:
    """``ipbus run`` is production unless IPBUS_ENV says otherwise."""
    if "env" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"env": "production"})


@app.command()
def demo(
    pace: Annotated[float, typer.Option(help="seconds to pause between steps")] = 0.4,
) -> None:
    """Start the bus, play the linkage scenario (short demo deadlines), and check it."""
    settings = demo_settings(Settings())
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
    as_json: JsonOption = False,
) -> None:
    """Print one case's shared status and timeline (asks the coordinator over NATS)."""
    settings = Settings()

    async def main() -> int:
        async with operator_client(
            settings, name="ipbus-cli", as_agency=asking_as(as_agency)
        ) as nc:
            reply = await query_case(nc, requester=as_agency, case_id=case_id)
            deadlines = (
                await query_referrals(nc, requester=as_agency) if reply.case is not None else None
            )
        own = [d for d in deadlines.deadlines if d.case_id == case_id] if deadlines else []
        if as_json:  # {"case": CaseView | null, "error": ..., "deadlines": [DeadlineView]}
            print_json(reply.model_dump(mode="json") | {"deadlines": own})
            return 0 if reply.case is not None else 1
        if reply.case is None:
            console.print(f"[red]{reply.error}[/red]")
            return 1
        case_table(reply.case, console)
        case_deadlines(own, console)
        return 0

    code = run_on_bus(main())
    raise typer.Exit(code=code or 0)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning configuration errors into one readable line."""
    try:
        return asyncio.run(coroutine)
    except (ConfigurationError, RetryableError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
