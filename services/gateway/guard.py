"""What stands in front of a gateway: a body limit, private docs, a warning when exposed.

* Request bodies above ``max_body_bytes`` (1 MiB unless set) are refused with 413 before
  they are read whole — whether the client declares a ``Content-Length`` or streams.
* With a token, ``/docs`` and ``/openapi.json`` need it too: the document lists every
  operation and contract an attacker would probe.
* Each client (token) gets ``rate_limit`` requests (``limits`` notation, ``1200/minute``
  unless set) in a moving window; past it, 429 with ``Retry-After``.
* A gateway bound beyond loopback without a token acts as the agency for anyone who can
  reach it: that is logged as a warning and printed as a banner on standard error.
"""

import ipaddress
import json
import math
import sys
import time
from collections.abc import Callable

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPES,
    GatewayProblem,
    problem_type,
)
from services.runtime.ops import get_logger

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_RATE_LIMIT",
    "BodyLimit",
    "RateLimit",
    "exposure_warning",
    "is_loopback",
    "too_large_detail",
    "warn_if_exposed",
]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = "1200/minute"


def too_large_detail(max_bytes: int) -> str:
    return f"request body too large: the gateway accepts at most {max_bytes} bytes"


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes`` (declared, or counted as it comes)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        larger: Callable[[str, str], int | None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger
        """(method, path) → a route's own, larger limit (an evidence upload), or None."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = self.larger(scope["method"], scope["path"]) if self.larger is not None else None
        await self._limited(scope, receive, send, own or self.max_bytes)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _refuse(send, max_bytes)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:  # answered as problem details by the app
                    raise GatewayProblem("body-too-large", too_large_detail(max_bytes))
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, max_bytes: int) -> None:
    problem = {
        "type": problem_type("body-too-large"),
        "title": PROBLEM_TYPES["body-too-large"][1],
        "status": 413,
        "detail": too_large_detail(max_bytes),
    }
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """A moving-window limit per client (the ``limits`` library, in memory, per process)."""

    def __init__(self, rate: str = DEFAULT_RATE_LIMIT) -> None:
        self.item = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, client: str) -> None:
        """Count one request of ``client``; 429 with ``Retry-After`` when over the limit."""
        if await self._limiter.hit(self.item, client):
            return
        stats = await self._limiter.get_window_stats(self.item, client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise GatewayProblem(
            "rate-limited",
            f"{client} is over its limit of {self.item}; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def exposure_warning(agency_id: str, host: str, port: int) -> str:
    return (
        f"the gateway of {agency_id} listens on {host}:{port}, beyond loopback, WITHOUT A "
        "TOKEN: anyone who reaches this port can submit events signed as "
        f"{agency_id} and read its inbox. Set IPBUS_GATEWAY_TOKEN, or bind to 127.0.0.1."
    )


def warn_if_exposed(agency_id: str, host: str, port: int, token: str | None) -> str | None:
    """Log and print the warning when the gateway is open to the network; the text, or None."""
    if token or is_loopback(host):
        return None
    text = exposure_warning(agency_id, host, port)
    get_logger("gateway", agency_id).warning("gateway exposed without a token", detail=text)
    rule = "!" * 78
    print(f"\n{rule}\n!! WARNING: {text}\n{rule}\n", file=sys.stderr, flush=True)
    return text
