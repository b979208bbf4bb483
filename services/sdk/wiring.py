"""Wiring, in one place: settings → registry, keys, database, clock, logger → a service.

No module globals: everything a service uses is built here and handed to it.
"""

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import nats
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.client import Client
from prometheus_client import CollectorRegistry

from contracts.agencies import AgencyKind, Registry
from contracts.subjects import COORDINATOR
from services.runtime.bus import (
    DEFAULT_DUPLICATE_WINDOW_S,
    Clock,
    ConfigurationError,
    InboxRepliesOnly,
    StreamLayout,
    StreamRetention,
    SystemClock,
    ensure_hub_sources,
    ensure_site_streams,
    ensure_streams,
)
from services.runtime.identity import (
    AgencyConnection,
    Settings,
    key_path,
    load_agency_key,
    load_or_create_key,
    prepare_registry,
    private_dir,
    require_authentication,
    server_list,
)
from services.runtime.law import RuleBook, load_policy, policy_section
from services.runtime.ops import IpbusMetrics, StopFailed, get_logger
from services.runtime.privacy import load_pseudonym_key
from services.runtime.server import OPERATOR, EmbeddedNatsServer, single_node_config
from services.runtime.storage import Database, database_url_for
from services.sdk.discovery import service_class_for
from services.sdk.service import AgencyService, ServiceContext

SERVICE_STOP_TIMEOUT_S = 30.0


__all__ = [
    "Bus",
    "ServiceCatalogue",
    "agency_connection",
    "agency_database",
    "bootstrap",
    "broker_metrics",
    "provision_streams",
    "stream_layout",
]

ServiceCatalogue = Mapping[AgencyKind, type[AgencyService]]
"""Which service class runs an agency of each kind (the command line supplies it)."""


def bootstrap(
    service_cls: type[AgencyService],
    *,
    settings: Settings,
    registry: Registry,
    agency_id: str,
    nats_url: str,
    clock: Clock | None = None,
    connection: AgencyConnection | None = None,
    metrics: IpbusMetrics | None = None,
) -> AgencyService:
    """Build one service for ``agency_id`` with everything it needs.

    With ``metrics``, the service writes its ``ipbus_*`` series and FastStream's
    ``faststream_*`` ones to ``metrics.registry``.
    """
    connection = connection or agency_connection(settings, agency_id)
    broker_options = connection.broker_options()
    broker_options["middlewares"] = [
        InboxRepliesOnly,  # answers never go into the event stream
        *([broker_metrics(metrics.registry, agency_id)] if metrics is not None else []),
    ]
    agency = registry.get(agency_id)
    database = agency_database(settings, agency_id)
    policy = load_policy(settings.policy_path)
    context = ServiceContext(
        agency=agency,
        registry=registry,
        key=load_agency_key(registry, settings.keys_dir, agency_id),
        database=database,
        clock=clock or SystemClock(),
        log=get_logger(service_cls.service_name, agency_id),
        nats_url=nats_url,
        max_message_bytes=settings.max_message_bytes,
        evidence_max_bytes=settings.evidence_max_bytes,
        evidence_spool_dir=settings.data_dir / "spool" / agency_id,
        preferred_partitions=settings.preferred_partitions,
        outbox_poll_seconds=settings.outbox_poll_seconds,
        broker_options=broker_options,
        metrics=metrics.for_agency(agency_id, service_cls.service_name) if metrics else None,
        # a simulated clock reads the stream's stored times on itself (bus.stored_on_clock)
        replay_window_s=settings.replay_window_s,
        clock_skew_s=settings.clock_skew_s,
        policy=policy,
        rules=RuleBook.from_policy(policy),
        pseudonym_key=load_pseudonym_key(settings.keys_dir, create=not settings.production),
        audit_anchor_s=settings.audit_anchor_seconds,
        upgrade_schema=not settings.production,
    )
    return service_cls(context)


def agency_database(settings: Settings, agency_id: str) -> Database:
    """The database ``agency_id``'s service uses (its SQLite file or PostgreSQL schema)."""
    return Database(
        database_url_for(settings.database_url, settings.data_dir, agency_id),
        namespace=settings.database_schema_prefix + agency_id,
        service_role=settings.database_service_roles,
    )


def agency_connection(settings: Settings, agency_id: str) -> AgencyConnection:
    """How ``agency_id`` connects: with its nkey when auth is on, over TLS when a CA is set."""
    seed = key_path(settings.keys_dir, agency_id) if settings.nkey_auth else None
    return AgencyConnection(
        agency_id,
        seed_file=seed,
        tls_ca=settings.nats_tls_ca,
        tls_cert=settings.nats_tls_cert,
        tls_key=settings.nats_tls_key,
    )


def broker_metrics(registry: CollectorRegistry, agency_id: str) -> NatsPrometheusMiddleware:
    """FastStream's message counts, latency and errors, labelled by agency."""
    return NatsPrometheusMiddleware(
        registry=registry, app_name="ipbus", custom_labels={"agency": agency_id}
    )


def stream_layout(settings: Settings) -> StreamLayout:
    """The streams as the settings (replicas) and the policy (``[streams]`` retention) want.

    The duplicate window covers the replay window: a copy of a stored event (one an agency
    has JetStream deliver back into ``ipbus.v1.>`` through a pull request's reply subject,
    which no permission can stop) is dropped by the stream while the event is fresh, and
    refused as ``replayed`` by every consumer after (SECURITY.md).
    """
    window = max(DEFAULT_DUPLICATE_WINDOW_S, settings.replay_window_s + settings.clock_skew_s)
    retention = policy_section(load_policy(settings.policy_path), "streams", StreamRetention)
    return StreamLayout(
        replicas=settings.stream_replicas,
        duplicate_window_s=window,
        retention=retention,
        partitions=settings.partitions,
    )


async def provision_streams(
    nats_url: str,
    layout: StreamLayout | None = None,
    *,
    connection: AgencyConnection | None = None,
    settings: Settings | None = None,
    site: str | None = None,
) -> None:
    """Declare the streams once, before any service binds its consumer.

    Under permissions only the coordinator's identity may do this (SECURITY.md). With
    ``settings.sites`` the hub's streams also source those sites; at a site
    (``settings.hub_domain``) ``site``'s own streams are declared instead (site_streams.py).
    """
    options = connection.nats_options() if connection else {}
    nc = await nats.connect(
        server_list(nats_url), connect_timeout=5, max_reconnect_attempts=3, **options
    )
    try:
        js = nc.jetstream()
        if site is not None and settings is not None and settings.hub_domain is not None:
            await ensure_site_streams(js, site, settings.hub_domain, layout)
            return
        await ensure_streams(js, layout or StreamLayout())
        if settings is not None and settings.site_agencies:
            await ensure_hub_sources(js, settings.site_agencies)
    finally:
        await nc.close()


ServiceT = TypeVar("ServiceT", bound=AgencyService)


class Bus:
    """The whole bus in one process: embedded nats-server (unless a URL is set) and services.

    ``ipbus up``, ``ipbus demo`` and the integration tests all start the bus this way.
    """

    def __init__(
        self,
        settings: Settings,
        catalogue: ServiceCatalogue,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.clock = clock
        self.server: EmbeddedNatsServer | None = None
        self.services: dict[str, AgencyService] = {}
        self._registry: Registry | None = None
        self._nats_url: str | None = settings.nats_url
        self.metrics = IpbusMetrics(CollectorRegistry())
        """One registry for every service of this bus (``/metrics`` serves it)."""

    @property
    def nats_url(self) -> str:
        if self._nats_url is None:
            raise ConfigurationError("the bus is not started")
        return self._nats_url

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise ConfigurationError("the bus is not started")
        return self._registry

    async def start(self, agency_ids: Sequence[str] | None = None) -> None:
        """Start NATS if needed, declare streams, then one service per agency."""
        settings = self.settings
        private_dir(settings.data_dir, tighten=True)  # databases, keys, logs: owner only
        require_authentication(settings)
        self._registry = prepare_registry(
            settings.registry_path,
            settings.keys_dir,
            settings.effective_registry_path,
            generate_keys=not settings.production,
        )
        if self._nats_url is None:
            self.server = EmbeddedNatsServer(
                settings.data_dir / "nats", config_file=self._server_config()
            )
            await self.server.start()
            self._nats_url = self.server.url
        wanted = agency_ids or [a.id for a in self.registry.agencies]
        layout = stream_layout(settings)
        if settings.hub_domain is None:
            await provision_streams(
                self.nats_url, layout, connection=self.connection(COORDINATOR), settings=settings
            )
        else:  # a leaf-node site: each of its agencies' own streams, sourced to the hub
            for agency_id in wanted:
                await provision_streams(
                    self.nats_url,
                    layout,
                    connection=self.connection(agency_id),
                    site=agency_id,
                    settings=settings,
                )
        for agency_id in wanted:
            await self.start_service(agency_id)

    def _server_config(self) -> Path | None:
        """The embedded server's permissions, from the effective registry (when auth is on).

        The operator's development key is generated next to the agencies' (0600), so the
        ``ipbus`` commands can authenticate from another shell
        (:mod:`services.runtime.identity.operator`).
        """
        if not self.settings.nkey_auth:
            return None
        operator = load_or_create_key(key_path(self.settings.keys_dir, OPERATOR))
        path = self.settings.data_dir / "nats" / "ipbus.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        config = single_node_config(self.registry, operator_key=operator.public_key)
        path.write_text(config, encoding="utf-8")
        return path

    def connection(self, agency_id: str) -> AgencyConnection:
        """How a client acting as ``agency_id`` connects to this bus."""
        return agency_connection(self.settings, agency_id)

    async def connect(self, agency_id: str, *, name: str) -> Client:
        """A raw nats-py client acting as ``agency_id`` (the demo, tools)."""
        return await self.connection(agency_id).connect(self.nats_url, name=name)

    def service_as(self, agency_id: str, cls: type[ServiceT]) -> ServiceT:
        """The running service of ``agency_id``, as the class the caller drives it as;
        :class:`LookupError` when it does not run here, or runs as another class."""
        found = self.services.get(agency_id)
        if not isinstance(found, cls):
            raise LookupError(f"{agency_id} is not running here as a {cls.__name__}")
        return found

    async def start_service(self, agency_id: str) -> AgencyService:
        service_cls = service_class_for(self.registry.get(agency_id), self.catalogue)
        service = bootstrap(
            service_cls,
            settings=self.settings,
            registry=self.registry,
            agency_id=agency_id,
            nats_url=self.nats_url,
            clock=self.clock,
            metrics=self.metrics,
        )
        await service.start()
        self.services[agency_id] = service
        return service

    async def stop(self) -> None:
        """Stop every service, then the embedded server.

        One service stuck in (or failing) its shutdown does not keep the others or the
        server from stopping, but it is not hidden either: :class:`StopFailed` is raised
        at the end, so ``ipbus up`` exits non-zero and a test whose bus leaks fails.
        """
        failed: list[str] = []
        for agency_id, service in reversed(list(self.services.items())):
            try:
                await asyncio.wait_for(service.stop(), SERVICE_STOP_TIMEOUT_S)
            except TimeoutError:
                service.log.error("service did not stop in time", agency=agency_id)
                failed.append(f"{agency_id}: did not stop within {SERVICE_STOP_TIMEOUT_S:.0f}s")
            except Exception as exc:
                service.log.exception("service failed to stop", agency=agency_id)
                failed.append(f"{agency_id}: {exc!r}")
        self.services.clear()
        if self.server is not None:
            await self.server.stop()
            self.server = None
            self._nats_url = self.settings.nats_url
        if failed:
            raise StopFailed("; ".join(failed))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
