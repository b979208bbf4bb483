"""Settings from ``IPBUS_*`` environment variables (DESIGN §7)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything a service needs to know about where it runs.

    Unset ``nats_url`` means "start an embedded nats-server under ``data_dir``"; unset
    ``database_url`` means "one SQLite file per service under ``data_dir``".
    """

    model_config = SettingsConfigDict(env_prefix="IPBUS_", frozen=True)

    nats_url: str | None = None
    database_url: str | None = None
    database_schema_prefix: str = ""
    """PostgreSQL only: prefix of every service's schema, to run several buses on one database."""
    data_dir: Path = Path("var")
    registry_path: Path = Field(default=Path("deploy/agencies.toml"))
    policy_path: Path = Field(default=Path("deploy/policy.toml"))
    nats_creds: Path | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    max_message_bytes: int = 256 * 1024
    outbox_poll_seconds: float = 1.0
    stream_replicas: int = 1
    """JetStream replicas of IPBUS and IPBUS_DLQ: 3 on a three-node cluster."""
    http_host: str = "127.0.0.1"
    """Where /metrics, /healthz and /readyz listen (0.0.0.0 in containers)."""
    http_port: int = 9464
    """One port per process (``ipbus up`` serves every service on it); 0 turns it off."""

    @property
    def keys_dir(self) -> Path:
        """Development keys, generated on first start; never committed."""
        return self.data_dir / "keys"

    @property
    def effective_registry_path(self) -> Path:
        """The registry with the public keys actually in use, for outside verification."""
        return self.data_dir / "agencies.toml"
