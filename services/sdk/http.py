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
from starlette.types import ASGIApp

from services.runtime.ops import StopFailed, cancel_and_wait
from services.sdk.health import check_readiness, refresh_service_metrics
from services.sdk.service import AgencyService

__all__ = ["HTTP_STOP_TIMEOUT_S", "HttpServer", "build_http_app"]

HTTP_STOP_TIMEOUT_S = 5.0
"""How long :meth:`HttpServer.stop` waits for uvicorn to finish its open requests."""


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
    """uvicorn serving ``app`` inside the caller's event loop, started and stopped with it.

    The one server runner of the bus: the operator's face (:func:`build_http_app`) and the
    agency gateway both run on it. :meth:`start` returns once the port listens (or raises why
    it could not bind); :meth:`stop` asks uvicorn to exit and fails loudly
    (:class:`StopFailed`) if it has not within ``stop_timeout_s``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str,
        port: int,
        name: str = "ipbus-http",
        stop_timeout_s: float = HTTP_STOP_TIMEOUT_S,
    ) -> None:
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
        self._name = name
        self._stop_timeout_s = stop_timeout_s
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Serve in the background; returns once the port is listening."""
        self._task = asyncio.create_task(self._serve(), name=self._name)
        while not self._server.started:
            if self._task.done():
                task, self._task = self._task, None  # nothing left to stop
                task.result()  # raises why it could not bind
                raise RuntimeError(f"HTTP server on {self.url} stopped at start-up")
            await asyncio.sleep(0.02)

    async def _serve(self) -> None:
        """uvicorn calls ``sys.exit`` when it cannot bind; a ``SystemExit`` out of a task would
        end the whole event loop (every service and test on it), so it becomes an error."""
        try:
            await self._server.serve()
        except SystemExit as exc:
            raise OSError(f"{self._name} could not serve on {self.url} (exit {exc.code})") from None

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait for it.

        A cancellation of the caller propagates (the server task is cancelled with it);
        a server still running after ``stop_timeout_s`` is cancelled and
        :class:`StopFailed` raised; an error the server ended with is raised.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        try:
            done, _ = await asyncio.wait([task], timeout=self._stop_timeout_s)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            await cancel_and_wait(task)
            raise StopFailed(
                f"{self._name} on {self.url} did not stop within {self._stop_timeout_s:g} s"
            )
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
