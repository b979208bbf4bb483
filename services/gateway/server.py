"""Serving one adapter's gateway on its own port (``ipbus run SERVICE --gateway-port``).

The gateway is a router; this wraps it in a FastAPI app with an OpenAPI document at
``/openapi.json`` (behind the token when there is one), a request body limit, and runs it
with uvicorn inside the service's event loop (:mod:`services.gateway.guard`).
"""

from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from services.gateway.app import (
    accepted_tokens_of,
    bearer_token_check,
    default_inbox_sources,
    gateway_router,
)
from services.gateway.evidence import is_evidence_upload, upload_limit
from services.gateway.guard import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_RATE_LIMIT,
    BodyLimit,
    warn_if_exposed,
)
from services.gateway.problems import install_problem_details
from services.gateway.submit import SUBMISSION_TAGS, why_not_submittable
from services.gateway.tokens import GatewayTokens
from services.gateway.webhooks import WebhookDispatcher
from services.runtime.identity import Settings
from services.sdk import AgencyService, HttpServer

__all__ = ["GatewayServer", "gateway_app", "gateway_options"]


def gateway_options(settings: Settings) -> dict[str, Any]:
    """The gateway's keyword arguments (token, limits, idempotency) from ``IPBUS_GATEWAY_*``."""
    return {
        "token": settings.gateway_token,
        "tokens": (
            GatewayTokens(settings.gateway_tokens_path) if settings.gateway_tokens_path else None
        ),
        "max_body_bytes": settings.gateway_max_body_bytes,
        "rate_limit": settings.gateway_rate_limit,
        "require_idempotency_key": settings.gateway_require_idempotency_key,
        "idempotency_retention": timedelta(hours=settings.gateway_idempotency_hours),
        "evidence_max_bytes": settings.evidence_max_bytes,
        "webhook_attempts": settings.gateway_webhook_attempts,
        "webhook_backoff_seconds": settings.gateway_webhook_backoff_seconds,
    }


def gateway_app(
    service: AgencyService,
    *,
    token: str | None = None,
    tokens: GatewayTokens | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    rate_limit: str = DEFAULT_RATE_LIMIT,
    require_idempotency_key: bool = False,
    idempotency_retention: timedelta = timedelta(hours=48),
    evidence_max_bytes: int = 1024**3,
    warning: str | None = None,
) -> FastAPI:
    """A FastAPI app serving only ``service``'s gateway (``token``: see ``gateway_router``).

    With a token, ``/docs`` and ``/openapi.json`` need it as well; bodies above
    ``max_body_bytes`` get 413; ``warning`` (an exposure warning) heads the description.
    """
    description = (
        f"The bus as {service.agency.name} ({service.agency.id}) sees it: submit events, "
        "read and acknowledge the inbox, query cases it is party to."
    )
    if warning:
        description = f"**WARNING: {warning}**\n\n{description}"
    accepted = accepted_tokens_of(token, tokens)
    public_docs = accepted is None
    app = FastAPI(
        title=f"ipbus gateway — {service.agency.id}",
        version="1",
        description=description,
        docs_url="/docs" if public_docs else None,
        redoc_url="/redoc" if public_docs else None,
        openapi_url="/openapi.json" if public_docs else None,
    )
    app.include_router(
        gateway_router(
            service,
            token=token,
            tokens=tokens,
            max_body_bytes=max_body_bytes,
            rate_limit=rate_limit,
            require_idempotency_key=require_idempotency_key,
            idempotency_retention=idempotency_retention,
            evidence_max_bytes=evidence_max_bytes,
        )
    )
    install_problem_details(app, tags=SUBMISSION_TAGS, explain=why_not_submittable)
    if accepted is not None:
        guard = [Depends(bearer_token_check(accepted))]

        @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
        async def openapi() -> JSONResponse:
            return JSONResponse(app.openapi())

        @app.get("/docs", include_in_schema=False, dependencies=guard)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    # an evidence upload's body is limited by evidence_max_bytes (and the form's overhead)
    app.add_middleware(
        BodyLimit,
        max_bytes=max_body_bytes,
        larger=lambda method, path: (
            upload_limit(evidence_max_bytes) if is_evidence_upload(method, path) else None
        ),
    )
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
        webhooks: bool = True,
        webhook_attempts: int = 8,
        webhook_backoff_seconds: float = 5.0,
        **options: Any,
    ) -> None:
        """``options``: the other keyword arguments of :func:`gateway_app`; ``webhooks``
        False: subscriptions are kept but nobody is called (a test of the API alone)."""
        secured = token or options.get("tokens") is not None
        self.warning = warn_if_exposed(service.agency.id, host, port, "yes" if secured else None)
        self._http = HttpServer(
            gateway_app(service, token=token, warning=self.warning, **options),
            host=host,
            port=port,
            name=f"ipbus-gateway-{service.agency.id}",
        )
        self._webhooks = (
            WebhookDispatcher(
                service,
                default_inbox_sources(service),
                attempts=webhook_attempts,
                backoff_seconds=webhook_backoff_seconds,
                poll_seconds=min(1.0, webhook_backoff_seconds),
            )
            if webhooks
            else None
        )
        self.url = self._http.url

    async def start(self) -> None:
        """Serve in the background; returns once the port is listening."""
        await self._http.start()
        if self._webhooks is not None:
            self._webhooks.start()

    async def stop(self) -> None:
        """Stop the webhook calls, then the server (see :meth:`HttpServer.stop`)."""
        try:
            if self._webhooks is not None:
                await self._webhooks.stop()
        finally:
            await self._http.stop()
