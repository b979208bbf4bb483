"""How one agency connects to NATS: its nkey, its reply inbox, and TLS when asked.

Built once and used for both the FastStream broker and raw nats-py clients, so a service,
the stream provisioner and the demo's own client present the same identity.
"""

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from faststream.nats import NatsNKey, NatsSecurity
from nats.aio.client import Client

from services.runtime.identity.settings import server_list
from services.runtime.server.nats_config import inbox_prefix

__all__ = ["AgencyConnection", "tls_context"]


def tls_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client TLS context trusting ``ca_file`` (else the system store), presenting
    ``cert_file`` to a server that verifies its clients (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


@dataclass(frozen=True, slots=True)
class AgencyConnection:
    """``seed_file`` None means no credentials (an open development server)."""

    agency_id: str
    seed_file: Path | None = None
    tls_ca: Path | None = None
    tls: bool = False
    tls_cert: Path | None = None
    """The agency's client certificate, for a server that verifies clients."""
    tls_key: Path | None = None

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.agency_id) if self.seed_file is not None else "_INBOX"

    def _ssl(self) -> ssl.SSLContext | None:
        if self.tls or self.tls_ca or self.tls_cert:
            return tls_context(self.tls_ca, self.tls_cert, self.tls_key)
        return None

    def nats_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`nats.connect`."""
        options: dict[str, Any] = {"inbox_prefix": self.inbox_prefix}
        if self.seed_file is not None:
            options["nkeys_seed"] = str(self.seed_file)
        context = self._ssl()
        if context is not None:
            options["tls"] = context
        return options

    def broker_options(self) -> dict[str, Any]:
        """Keyword arguments for FastStream's ``NatsBroker``."""
        options: dict[str, Any] = {"inbox_prefix": self.inbox_prefix}
        context = self._ssl()
        if self.seed_file is not None:
            options["security"] = NatsNKey(self.seed_file, ssl_context=context)
        elif context is not None:
            options["security"] = NatsSecurity(ssl_context=context)
        return options

    async def connect(self, url: str, *, name: str) -> Client:
        """A raw nats-py client with this identity (``url`` may list cluster nodes)."""
        client: Client = await nats.connect(
            server_list(url),
            name=name,
            connect_timeout=5,
            max_reconnect_attempts=3,
            **self.nats_options(),
        )
        return client
