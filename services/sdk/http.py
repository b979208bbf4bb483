"""The operator's HTTP face of a process: ``/metrics``, ``/healthz``, ``/readyz``.

One server per process. ``ipbus run`` hosts one service, ``ipbus up`` all of them: then
``/readyz`` reports every service (ready only when all are) and ``/metrics`` exposes the
one registry every service writes to, each series labelled by ``agency``. Other HTTP
surfaces (the agency gateway) are FastAPI routers mounted with ``extra_routers``.
"""

import asyncio
from collections.abc import Mapping, Sequence

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from services.runtime.ops import cancel_and_wait
from services.sdk.health import check_readiness, refresh_service_metrics
from services.sdk.service import AgencyService

__all__ = ["HttpServer", "build_http_app"]


def build_http_app(
    services: Mapping[str, AgencyService],
    registry: CollectorRegistry,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The app; ``services`` is read on every request, so services may start later."""
    app = FastAPI(title="ipbus", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        """Alive: the event loop answers. Restart the process when this fails."""
        return {"status": "alive", "services": sorted(services)}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Ready: every service has NATS, its database and its consumer."""
        checks = await asyncio.gather(*(check_readiness(s) for s in list(services.values())))
        ready = bool(checks) and all(c.ready for c in checks)
        return JSONResponse(
            {"ready": ready, "services": [c.as_dict() for c in checks]},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        """Refresh the scrape-time gauges, then expose the registry."""
        running = list(services.values())
        await asyncio.gather(*(refresh_service_metrics(s) for s in running))
        await asyncio.gather(*(check_readiness(s) for s in running))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in extra_routers:
        app.include_router(router)
    return app


class HttpServer:
    """uvicorn in the service's event loop, started and stopped with the services."""

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                log_config=None,  # uvicorn's loggers go through ours (and its redaction)
                lifespan="off",
            )
        )
        self._task: asyncio.Task[None] | None = None
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="ipbus-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not bind
                raise RuntimeError(f"HTTP server on {self.url} stopped at start-up")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        done, _ = await asyncio.wait([self._task], timeout=5)
        if not done:
            await cancel_and_wait(self._task)
        self._task = None
