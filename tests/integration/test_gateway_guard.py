"""The gateway's guard (issue 14 part 5): a body limit answered with 413, the OpenAPI
document and /docs behind the token, and a loud warning when it is exposed without one.
Real nats-server, real databases, real HTTP through uvicorn."""

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from services.gateway import DEFAULT_MAX_BODY_BYTES, GatewayServer, gateway_app
from services.runtime.identity import Settings
from services.runtime.server import free_port
from services.sdk import Bus, HttpServer
from tests.integration.conftest import StartBus, StartGateway

pytestmark = pytest.mark.integration

COURT = "court-shanghai-ip"
TOKEN = "s3cret-gateway-token"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", COURT))


@contextlib.asynccontextmanager
async def _serving(
    start_gateway: StartGateway, bus: Bus, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new court gateway, stopped at the end (by the fixture if this fails)."""
    server = await start_gateway(bus.services[COURT], **options)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client
    await server.stop()


def _event(padding: int) -> dict[str, object]:
    return {"type": "case.status_changed", "data": {"note": "x" * padding}, "to": "coordinator"}


async def test_a_body_over_the_limit_is_refused_with_413_declared_or_streamed(
    bus: Bus, start_gateway: StartGateway
) -> None:
    async with _serving(start_gateway, bus, max_body_bytes=4096) as client:
        small = await client.post("/events", json=_event(100))
        assert small.status_code == 422  # read and judged: not stopped by the limit
        declared = await client.post("/events", json=_event(5000))
        assert declared.status_code == 413
        assert "at most 4096 bytes" in declared.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"type": "case.status_changed", "data": {"note": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}}'

        streamed = await client.post(
            "/events", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        assert "at most 4096 bytes" in streamed.json()["detail"]
        document = (await client.get("/openapi.json")).json()
        assert "413" in document["paths"]["/events"]["post"]["responses"]


async def test_the_default_limit_is_one_mebibyte(bus: Bus, start_gateway: StartGateway) -> None:
    assert DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert Settings().gateway_max_body_bytes == DEFAULT_MAX_BODY_BYTES
    async with _serving(start_gateway, bus) as client:
        over = await client.post("/events", json=_event(DEFAULT_MAX_BODY_BYTES))
        assert over.status_code == 413
        under = await client.post("/events", json=_event(DEFAULT_MAX_BODY_BYTES - 1000))
        assert under.status_code == 422


async def test_docs_and_the_openapi_document_need_the_token_when_there_is_one(
    bus: Bus, start_gateway: StartGateway
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with _serving(start_gateway, bus, token=TOKEN) as client:
        for path in ("/openapi.json", "/docs"):
            assert (await client.get(path)).status_code == 401, path
            assert (
                await client.get(path, headers={"Authorization": "Bearer wrong"})
            ).status_code == 401
            assert (await client.get(path, headers=bearer)).status_code == 200, path
        assert (await client.get("/redoc")).status_code == 404
        document = (await client.get("/openapi.json", headers=bearer)).json()
        assert "/events" in document["paths"]
        assert "/openapi.json" not in document["paths"]
        assert (await client.get("/inbox")).status_code == 401
    async with _serving(start_gateway, bus) as client:
        # without a token, on loopback: the document is public, as before
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/docs")).status_code == 200


def test_binding_beyond_loopback_without_a_token_is_warned_loudly(
    bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    service = bus.services[COURT]
    with structlog.testing.capture_logs() as logged:
        exposed = GatewayServer(service, host="0.0.0.0", port=free_port())
    assert exposed.warning is not None
    assert "WITHOUT A TOKEN" in capsys.readouterr().err
    assert [e["event"] for e in logged] == ["gateway exposed without a token"]
    assert logged[0]["log_level"] == "warning"
    document = gateway_app(service, warning=exposed.warning).openapi()
    assert "WITHOUT A TOKEN" in document["info"]["description"]

    with structlog.testing.capture_logs() as quiet:
        for host, token in (("0.0.0.0", TOKEN), ("127.0.0.1", None), ("::1", None)):
            assert GatewayServer(service, host=host, port=free_port(), token=token).warning is None
    assert quiet == []
    assert "WARNING" not in capsys.readouterr().err


def test_uvicorn_logs_through_the_redacting_root_handler(bus: Bus) -> None:
    error_log = logging.getLogger("uvicorn.error")
    error_log.handlers.clear()
    error_log.propagate = True
    GatewayServer(bus.services[COURT], port=free_port())
    HttpServer(FastAPI(), host="127.0.0.1", port=free_port())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert logging.getLogger(name).handlers == [], name
        assert logging.getLogger(name).propagate, name
