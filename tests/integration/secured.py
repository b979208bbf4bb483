"""A nats-server running the configuration ``ipbus nats-config`` writes, and its clients."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.client import Client

from services.cli.security import CLIENT_CERT, CLIENT_KEY, SITE_CA, site_dir
from services.runtime.identity import AgencyConnection, key_path
from services.runtime.server import EmbeddedNatsServer

__all__ = ["ErrorLog", "SecuredServer", "connect_as"]


@dataclass
class ErrorLog:
    """The asynchronous errors the server sent one client (permission violations arrive so)."""

    errors: list[str] = field(default_factory=list)

    async def record(self, error: Exception) -> None:
        self.errors.append(str(error))

    async def wait_for(self, fragment: str, *, timeout_s: float = 5.0) -> str:
        """The first error containing ``fragment``; fail when none arrives."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            for error in self.errors:
                if fragment.lower() in error.lower():
                    return error
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no error containing {fragment!r}; got {self.errors}")
            await asyncio.sleep(0.02)


@dataclass
class SecuredServer:
    server: EmbeddedNatsServer
    credentials: Path
    """The ``--out`` directory of ``ipbus nats-config``: agency X's files in ``sites/X/``."""
    tls: bool = False
    """Connect over mutual TLS with the agency's client certificate (``--tls``)."""

    @property
    def url(self) -> str:
        return self.server.url

    def connection(self, agency_id: str) -> AgencyConnection:
        site = site_dir(self.credentials, agency_id)
        if not self.tls:
            return AgencyConnection(agency_id, seed_file=key_path(site, agency_id))
        return AgencyConnection(
            agency_id,
            seed_file=key_path(site, agency_id),
            tls_ca=site / SITE_CA,
            tls_cert=site / CLIENT_CERT,
            tls_key=site / CLIENT_KEY,
        )


async def connect_as(secured: SecuredServer, agency_id: str) -> tuple[Client, ErrorLog]:
    """A client with ``agency_id``'s seed file from the generated credentials directory."""
    log = ErrorLog()
    client = await nats.connect(
        secured.url,
        name=f"test-{agency_id}",
        error_cb=log.record,
        max_reconnect_attempts=0,
        **secured.connection(agency_id).nats_options(),
    )
    return client, log
