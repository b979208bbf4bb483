"""Serving the operator endpoints next to the services a command runs."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry

from services.runtime.identity import Settings
from services.sdk import AgencyService, HttpServer, build_http_app

__all__ = ["serving_http"]


@asynccontextmanager
async def serving_http(
    settings: Settings, services: Mapping[str, AgencyService], registry: CollectorRegistry
) -> AsyncIterator[str]:
    """``/metrics``, ``/healthz``, ``/readyz`` on ``IPBUS_HTTP_PORT`` (0: not served)."""
    if settings.http_port == 0:
        yield "(HTTP off: IPBUS_HTTP_PORT=0)"
        return
    server = HttpServer(
        build_http_app(services, registry), host=settings.http_host, port=settings.http_port
    )
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()
