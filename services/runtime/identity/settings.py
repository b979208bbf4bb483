"""Settings from ``IPBUS_*`` environment variables (DESIGN §7)."""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "server_list"]


class Settings(BaseSettings):
    """Everything a service needs to know about where it runs.

    Unset ``nats_url`` means "start an embedded nats-server under ``data_dir``"; unset
    ``database_url`` means "one SQLite file per service under ``data_dir``".
    """

    model_config = SettingsConfigDict(env_prefix="IPBUS_", frozen=True, env_ignore_empty=True)
    """An empty variable (``IPBUS_NATS_URL=``) means unset, as a shell user means it."""

    nats_url: str | None = None
    database_url: str | None = None
    database_schema_prefix: str = ""
    """PostgreSQL only: prefix of every service's schema, to run several buses on one database."""
    database_service_roles: bool = False
    """PostgreSQL only: connect with an administrator's URL but act, in every session, as the
    service's own role, which owns its schema and nothing else (created if missing). The
    deployment instead gives each service its own login role (``<out>/database/``)."""
    data_dir: Path = Path("var")
    registry_path: Path = Field(default=Path("deploy/agencies.toml"))
    policy_path: Path = Field(default=Path("deploy/policy.toml"))
    nats_creds: Path | None = None
    operator_creds: Path | None = None
    """The operator's nkey seed for the ``ipbus`` commands that talk to the bus (status, dlq,
    warnings, referrals, case show); unset: ``<data dir>/keys/operator.nk`` if it exists."""
    nats_auth: Literal["auto", "nkey", "none"] = "auto"
    """``auto``: each agency connects with its nkey to the embedded server (which then refuses
    anyone else), and without credentials to an ``IPBUS_NATS_URL`` server; ``nkey``/``none``
    force it."""
    nats_tls_ca: Path | None = None
    """CA that signed the NATS server's certificate: connect over TLS and check it."""
    nats_tls_cert: Path | None = None
    """Client certificate (PEM) presented to a server that verifies clients (mutual TLS)."""
    nats_tls_key: Path | None = None
    """Private key of ``nats_tls_cert``."""
    env: Literal["development", "production"] = "development"
    """``production`` (what ``ipbus run`` assumes unless told, and the manifests set):
    ``nats_auth=auto`` means nkey, an open connection is refused, a missing key or
    pseudonym key is an error, never generated. ``development`` (``ipbus up``, the demo,
    tests): keys are generated on first start and an open server is allowed, loudly."""
    replay_window_s: float = 24 * 3600.0
    """An event whose ``time`` is older than this when the stream stored it is a replay."""
    clock_skew_s: float = 300.0
    """How far ahead of the stream's clock an event's ``time`` may be."""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    max_message_bytes: int = 256 * 1024
    outbox_poll_seconds: float = 1.0
    evidence_max_bytes: int = Field(default=1024**3, ge=1)
    """The largest piece of evidence an agency may attach (bytes; the gateway answers 413
    above it). Objects stream in chunks, so this bounds storage, not memory."""
    gateway_token: str | None = None
    """When set, the agency-side gateway answers only ``Authorization: Bearer <token>``."""
    gateway_tokens_path: Path | None = None
    """A file of named gateway tokens, stored hashed, each with scopes (``ipbus gateway-token
    add``); re-read when it changes, so tokens are added, rotated and revoked without a
    restart. With ``gateway_token`` as well, that one is accepted too (every scope)."""
    gateway_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Request bodies above this get 413 from the gateway (1 MiB: events are far smaller)."""
    gateway_rate_limit: str = "1200/minute"
    """Requests per client (token) the gateway takes in a moving window (``limits`` notation:
    ``20/second``, ``1200/minute``); past it, 429 with ``Retry-After``."""
    gateway_require_idempotency_key: bool = False
    """Once an agency's systems send ``Idempotency-Key`` on every submission: refuse (400)
    a mutating gateway request without one."""
    gateway_webhook_attempts: int = Field(default=8, ge=1)
    """Attempts of a webhook callback before it is dead-lettered (``/webhooks/dead-letters``)."""
    gateway_webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    """Delay before a callback's second attempt; it doubles with each further one."""
    gateway_idempotency_hours: float = Field(default=48.0, ge=24.0)
    """How long the gateway remembers an ``Idempotency-Key``'s answer (24 h at least)."""
    stream_replicas: int = Field(default=1, ge=1, le=5)
    """Replicas of the IPBUS and IPBUS_DLQ streams: 3 on a JetStream cluster, 1 on one node."""
    partitions: int = Field(default=4, ge=1, le=16)
    """Partitions of the coordinator's work by case (issue 18): one durable consumer each,
    read by every coordinator replica. Fixed when IPBUS is created (docs/performance.md)."""
    coordinator_partitions: str = Field(
        default="", pattern=r"^\s*((\d+\s*(,\s*\d+\s*)*)|(\d+\s*/\s*[1-9]\d*\s*))?$"
    )
    """The partitions this coordinator replica reads first: comma-separated ("0,1"), or
    "i/n", replica i of n (from 0), which reads every partition p with p mod n = i (a
    Kubernetes StatefulSet gives each pod its index). The others it takes over only while
    nobody reads them. Empty: the replicas settle it among themselves through the
    consumers (services/runtime/bus/turns.py)."""
    hub_domain: str | None = None
    """At a leaf-node site (DESIGN §7): the hub's JetStream domain. The site's streams are
    declared on its own server and source the hub's events for the agency (site_streams.py)."""
    sites: str = ""
    """At the hub: comma-separated agencies on their own leaf-node sites; the hub's streams
    source their events from each site's JetStream domain (the agency's id)."""
    audit_anchor_seconds: float = Field(default=60.0, gt=0)
    """How often the coordinator publishes a signed anchor of its audit chain (if it moved)."""
    http_host: str = "127.0.0.1"
    """Where /metrics, /healthz and /readyz listen (0.0.0.0 in containers)."""
    http_port: int = 9464
    """One port per process (``ipbus up`` serves every service on it); 0 turns it off."""

    @model_validator(mode="after")
    def _partitions_exist(self) -> Self:
        """A replica told to prefer a partition the stream does not have is misconfigured."""
        if "/" in self.coordinator_partitions:
            replica, replicas = (int(t) for t in self.coordinator_partitions.split("/"))
            if replica >= replicas:
                raise ValueError(
                    f"coordinator_partitions {self.coordinator_partitions!r}: replica "
                    f"{replica} of {replicas} (they count from 0)"
                )
        elif missing := sorted(p for p in self.preferred_partitions or () if p >= self.partitions):
            raise ValueError(
                f"coordinator_partitions names {missing}, beyond the {self.partitions} "
                "partitions (they count from 0)"
            )
        return self

    @property
    def preferred_partitions(self) -> frozenset[int] | None:
        """:attr:`coordinator_partitions` as numbers (None: unset).

        >>> Settings(partitions=4, coordinator_partitions="1/2").preferred_partitions
        frozenset({1, 3})
        >>> Settings(partitions=4, coordinator_partitions="0, 2").preferred_partitions
        frozenset({0, 2})
        """
        if "/" in self.coordinator_partitions:
            replica, replicas = (int(t) for t in self.coordinator_partitions.split("/"))
            return frozenset(p for p in range(self.partitions) if p % replicas == replica)
        tokens = [t.strip() for t in self.coordinator_partitions.split(",") if t.strip()]
        return frozenset(int(t) for t in tokens) if tokens else None

    @property
    def nkey_auth(self) -> bool:
        """Whether services present their nkey to NATS (see ``nats_auth``)."""
        if self.nats_auth == "auto":
            return self.nats_url is None or self.production
        return self.nats_auth == "nkey"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def open_mode(self) -> bool:
        """Services connect to a server without credentials: anyone may act on it."""
        return not self.nkey_auth

    @property
    def site_agencies(self) -> list[str]:
        """``sites`` as a list."""
        return [agency.strip() for agency in self.sites.split(",") if agency.strip()]

    @property
    def keys_dir(self) -> Path:
        """Development keys, generated on first start; never committed."""
        return self.data_dir / "keys"

    @property
    def bus_record_path(self) -> Path:
        """Where ``ipbus up`` records where its bus listens, for the other commands."""
        return self.data_dir / "bus.json"

    @property
    def effective_registry_path(self) -> Path:
        """The registry with the public keys actually in use, for outside verification."""
        return self.data_dir / "agencies.toml"


def server_list(nats_url: str) -> list[str]:
    """``IPBUS_NATS_URL`` may name several servers of a cluster, comma-separated."""
    return [url.strip() for url in nats_url.split(",") if url.strip()]
