"""Serving one adapter's gateway on its own port (``ipbus run SERVICE --gateway-port``).

The gateway is a router; this wraps it in a FastAPI app with an OpenAPI document at
``/openapi.json`` and runs it with uvicorn inside the service's event loop.
"""

import asyncio
import contextlib

import uvicorn
from fastapi import FastAPI

from services.runtime.adapter import AgencyService
from services.runtime.gateway import gateway_router

__all__ = ["GatewayServer", "gateway_app"]


def gateway_app(service: AgencyService, *, token: str | None = None) -> FastAPI:
    """A FastAPI app serving only ``service``'s gateway (``token``: see ``gateway_router``)."""
    app = FastAPI(
        title=f"ipbus gateway — {service.agency.id}",
        version="1",
        description=(
            f"The bus as {service.agency.name} ({service.agency.id}) sees it: submit events, "
            "read and acknowledge the inbox, query cases it is party to."
        ),
    )
    app.include_router(gateway_router(service, token=token))
    return app


class GatewayServer:
    """uvicorn running :func:`gateway_app` for one service, started and stopped with it."""

    def __init__(
        self,
        service: AgencyService,
        *,
        host: str = "127.0.0.1",
        port: int,
        token: str | None = None,
    ) -> None:
        config = uvicorn.Config(
            gateway_app(service, token=token),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None
        self.url = f"http://{host}:{port}"

    async def start(self) -> None:
        """Serve in the background; returns once the port is listening."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # the bind failed: raise its error here
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
