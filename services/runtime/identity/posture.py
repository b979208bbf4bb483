"""Secure by default: production refuses an unauthenticated bus; development says so loudly.

"Development" is ``IPBUS_ENV=development``: the default of ``ipbus up``, ``ipbus demo`` and
the tests. ``ipbus run`` (one service, the production shape) is ``production`` unless
``IPBUS_ENV`` says otherwise; the manifests set it explicitly.
"""

from services.runtime.bus.errors import ConfigurationError
from services.runtime.identity.settings import Settings
from services.runtime.ops.metrics import IpbusMetrics

__all__ = ["OPEN_MODE_BANNER", "announce_open_mode", "require_authentication"]

OPEN_MODE_BANNER = (
    "OPEN MODE: services connect to {url} WITHOUT credentials; whoever reaches that server "
    "may publish and read as any agency (signatures are still checked). Development only: "
    "set IPBUS_NATS_AUTH=nkey (and IPBUS_NATS_TLS_CA/CERT/KEY) for a real deployment."
)


def require_authentication(settings: Settings) -> None:
    """Outside development, refuse to connect without credentials, naming the setting."""
    if settings.production and settings.open_mode:
        raise ConfigurationError(
            "IPBUS_ENV=production refuses to connect to NATS without authentication: "
            "set IPBUS_NATS_AUTH=nkey (or leave it auto) and put this agency's seed in "
            f"{settings.keys_dir}/<id>.nk, or set IPBUS_ENV=development to run open on purpose"
        )


def announce_open_mode(settings: Settings, metrics: IpbusMetrics, url: str) -> str | None:
    """The banner to print when the services run open (and ``ipbus_open_mode`` 1), else None."""
    metrics.open_mode.set(1 if settings.open_mode else 0)
    return OPEN_MODE_BANNER.format(url=url) if settings.open_mode else None
