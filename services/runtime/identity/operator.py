"""The operator: the identity the ``ipbus`` commands use, and where they find the bus.

``ipbus up`` generates the operator's nkey next to the agencies' development keys
(``<data dir>/keys/operator.nk``, 0600), gives it its own user in the embedded server
(:func:`services.runtime.server.nats_config.operator_permissions`) and records where the bus
listens in ``<data dir>/bus.json``; ``ipbus status``, ``ipbus dlq``, ``ipbus warnings``,
``ipbus referrals`` and ``ipbus case show`` read both back, so they work from another
shell with nothing else set. ``IPBUS_NATS_URL`` and ``IPBUS_OPERATOR_CREDS`` point them at
any other bus.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from services.runtime.bus.errors import ConfigurationError
from services.runtime.identity.connection import AgencyConnection
from services.runtime.identity.registry import key_path
from services.runtime.identity.settings import Settings
from services.runtime.server.nats_config import OPERATOR

__all__ = [
    "OPERATOR",
    "BusRecord",
    "forget_bus",
    "operator_connection",
    "operator_seed",
    "read_bus_record",
    "record_bus",
]


@dataclass(frozen=True, slots=True)
class BusRecord:
    """Where a running ``ipbus up`` listens: NATS, and its HTTP endpoints (None: off)."""

    nats_url: str
    http_url: str | None
    pid: int


def record_bus(settings: Settings, nats_url: str, http_url: str | None) -> BusRecord:
    """Write ``<data dir>/bus.json`` (0600, replaced whole) for the other commands."""
    record = BusRecord(nats_url, http_url, os.getpid())
    path = settings.bus_record_path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"nats_url": nats_url, "http_url": http_url, "pid": record.pid}, handle)
    temporary.replace(path)
    return record


def forget_bus(settings: Settings) -> None:
    """Remove the record on a clean stop, if it is still this process's."""
    record = read_bus_record(settings)
    if record is not None and record.pid == os.getpid():
        settings.bus_record_path.unlink(missing_ok=True)


def read_bus_record(settings: Settings) -> BusRecord | None:
    """The record ``ipbus up`` left in the data dir, or None."""
    try:
        data = json.loads(settings.bus_record_path.read_text(encoding="utf-8"))
        return BusRecord(str(data["nats_url"]), data.get("http_url"), int(data.get("pid", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def operator_seed(settings: Settings) -> Path | None:
    """``IPBUS_OPERATOR_CREDS``, else the development seed ``ipbus up`` generated, else None."""
    if settings.operator_creds is not None:
        if not settings.operator_creds.is_file():
            raise ConfigurationError(
                f"IPBUS_OPERATOR_CREDS names {settings.operator_creds}, which is not a file"
            )
        return settings.operator_creds
    generated = key_path(settings.keys_dir, OPERATOR)
    return generated if generated.is_file() else None


def operator_connection(
    settings: Settings, as_agency: str | None = None
) -> tuple[str, AgencyConnection]:
    """The bus's URL and how to connect to it as the operator (or as ``as_agency``).

    ``as_agency`` uses that agency's own seed when the keys dir has it (a development bus,
    where the keys are all on this machine); without it the operator connects, and a
    secured server will not let it ask as that agency (an open one will).
    """
    nats_url = settings.nats_url
    if nats_url is None:
        record = read_bus_record(settings)
        if record is None:
            raise ConfigurationError(
                f"no bus is recorded in {settings.data_dir} (start `ipbus up` with "
                "IPBUS_DATA_DIR set the same, or set IPBUS_NATS_URL)"
            )
        nats_url = record.nats_url
    if as_agency is not None and as_agency != OPERATOR:
        seed = key_path(settings.keys_dir, as_agency)
        if seed.is_file():
            tls_ca = settings.nats_tls_ca
            return nats_url, AgencyConnection(as_agency, seed_file=seed, tls_ca=tls_ca)
    return nats_url, AgencyConnection(
        OPERATOR, seed_file=operator_seed(settings), tls_ca=settings.nats_tls_ca
    )
