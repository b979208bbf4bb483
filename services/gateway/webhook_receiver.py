"""An example receiver of gateway webhooks, for an agency system to copy (docs/adapters.md).

It refuses (401) a callback whose signature does not match the subscription's secret
(forged) or whose timestamp is more than five minutes off (a replay of an old callback) —
both checked by the ``standardwebhooks`` library — and handles each item once: a callback
whose ``webhook-id`` (the item id) it already took is answered 200 and not handled again
(a retry whose answer was lost, or a replay inside the five minutes).

>>> app = receiver_app("whsec_" + "A" * 43, lambda item: None)
>>> sorted(route.path for route in app.routes)
['/ipbus-webhook']
"""

from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["receiver_app"]


def receiver_app(
    secret: str,
    handle: Callable[[dict[str, Any]], None],
    *,
    seen: set[str] | None = None,
) -> Starlette:
    """An ASGI app taking callbacks at ``/ipbus-webhook``; ``handle`` gets each item once.

    ``seen`` holds the item ids already handled (a real system keeps them in its database,
    in the transaction that handles the item).
    """
    verifier = Webhook(secret)
    handled = seen if seen is not None else set()

    async def callback(request: Request) -> Response:
        body = await request.body()
        try:
            item = verifier.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            return JSONResponse({"refused": str(exc)}, status_code=401)
        item_id = request.headers["webhook-id"]
        if item_id in handled:
            return JSONResponse({"duplicate": item_id})
        handle(item)
        handled.add(item_id)
        return Response(status_code=204)

    return Starlette(routes=[Route("/ipbus-webhook", callback, methods=["POST"])])
