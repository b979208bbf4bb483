"""Webhooks: the gateway calls an agency system when an item reaches its inbox.

A system subscribes (``POST /webhooks``) with its URL and gets a secret, once. Each new
inbox item is then POSTed to it as JSON, signed the Standard Webhooks way (the
``standardwebhooks`` library): ``webhook-id`` is the item id — the same on every retry, so
the receiver handles each item once — ``webhook-timestamp`` the time of this attempt, and
``webhook-signature`` an HMAC-SHA256 over ``id.timestamp.body`` with the subscription's
secret; a receiver refuses a signature that does not match and a timestamp more than five
minutes off (a replay). Anything but a 2xx is retried with doubling delays; after the last
attempt the delivery is dead-lettered: logged as an error and listed at
``GET /webhooks/dead-letters`` until the operator redelivers it.
"""

import base64
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends
from pydantic import BaseModel, HttpUrl
from pydantic import Field as PydanticField
from sqlalchemy import UniqueConstraint, delete
from sqlmodel import Field, col, select
from standardwebhooks import Webhook

from contracts.identifiers import new_ulid
from services.gateway.idempotency import IdempotencyKeyHeader
from services.gateway.inbox import InboxItem, InboxSource, positioned
from services.gateway.problems import GatewayProblem, Problem
from services.runtime.ops import PeriodicTask, get_logger
from services.runtime.storage import RuntimeTable
from services.sdk import AgencyService

__all__ = [
    "DeadLetter",
    "WebhookCreated",
    "WebhookDelivery",
    "WebhookDispatcher",
    "WebhookRequest",
    "WebhookSubscription",
    "WebhookView",
    "add_webhook_routes",
    "new_secret",
]

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class WebhookSubscription(RuntimeTable, table=True):
    """A system that wants to be called; ``cursor``: the last inbox position handed to it."""

    __tablename__ = "ipbus_gateway_webhook"

    id: str = Field(primary_key=True, max_length=26)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=80)
    kinds: str = Field(default="", max_length=200)
    """Comma-separated inbox kinds; empty: every kind."""
    client: str = Field(max_length=80)
    cursor: int = 0
    created_at: datetime


class WebhookDelivery(RuntimeTable, table=True):
    """One item to one subscription, until delivered or dead-lettered."""

    __tablename__ = "ipbus_gateway_webhook_delivery"
    __table_args__ = (UniqueConstraint("subscription_id", "item_id"),)

    seq: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(max_length=26, index=True)
    item_id: str = Field(max_length=80)
    body: str
    state: str = Field(default=PENDING, max_length=10, index=True)
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str = ""
    finished_at: datetime | None = None


class DeadLetter(BaseModel):
    """A delivery that failed its last attempt; the operator may redeliver it."""

    delivery: int
    subscription_id: str
    url: str
    item_id: str
    attempts: int
    last_error: str
    failed_at: datetime | None


def new_secret() -> str:
    """A subscription secret in the Standard Webhooks form (``whsec_`` + base64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookDispatcher:
    """Hands new inbox items to subscriptions and delivers them, in the gateway's process."""

    def __init__(
        self,
        service: AgencyService,
        sources: Sequence[InboxSource],
        *,
        attempts: int = 8,
        backoff_seconds: float = 5.0,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._service = service
        self._sources = list(sources)
        self.attempts = attempts
        self.backoff = timedelta(seconds=backoff_seconds)
        self._timeout = timeout_seconds
        self._log = get_logger("gateway", service.agency.id)
        self._client: httpx.AsyncClient | None = None
        self.loop = PeriodicTask(
            self._round,
            self._log,
            interval_s=poll_seconds,
            name="gateway-webhooks",
            metrics=service.metrics,
        )
        """The dispatch loop: a failed round (a database outage) is logged and retried."""

    def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout)
        self.loop.start()

    async def stop(self) -> None:
        """Stop the loop, then close its HTTP client; the caller's cancellation propagates."""
        try:
            await self.loop.stop()
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()

    async def _round(self) -> None:
        assert self._client is not None, "started"
        await self.run_once(self._client)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """Queue new items, then try every due delivery once; returns how many were tried."""
        await self._queue_new_items()
        now = self._service.clock.now()
        async with self._service.database.transaction() as session:
            due = list(
                await session.exec(
                    select(WebhookDelivery, WebhookSubscription)
                    .join(
                        WebhookSubscription,
                        col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
                    )
                    .where(col(WebhookDelivery.state) == PENDING)
                    .where(col(WebhookDelivery.next_attempt_at) <= now)
                    .order_by(col(WebhookDelivery.seq))
                    .limit(100)
                )
            )
        outcomes = [(d.seq, await self._deliver(client, d, s)) for d, s in due]
        async with self._service.database.transaction() as session:
            for seq, error in outcomes:
                delivery = await session.get(WebhookDelivery, seq)
                if delivery is None or delivery.state != PENDING:
                    continue  # unsubscribed meanwhile
                self._record(delivery, error)
                session.add(delivery)
        return len(due)

    def _record(self, delivery: WebhookDelivery, error: str | None) -> None:
        now = self._service.clock.now()
        delivery.attempts += 1
        if error is None:
            delivery.state, delivery.finished_at = DELIVERED, now
            return
        delivery.last_error = error[:1000]
        if delivery.attempts >= self.attempts:
            delivery.state, delivery.finished_at = DEAD, now
            self._log.error(
                "webhook delivery dead-lettered",
                item_id=delivery.item_id,
                subscription=delivery.subscription_id,
                attempts=delivery.attempts,
                error=delivery.last_error,
            )
            return
        delivery.next_attempt_at = now + self.backoff * 2 ** (delivery.attempts - 1)

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        delivery: WebhookDelivery,
        subscription: WebhookSubscription,
    ) -> str | None:
        """POST one signed delivery; None when the receiver took it (2xx), else why not."""
        sent_at = self._service.clock.now()
        signature = Webhook(subscription.secret).sign(delivery.item_id, sent_at, delivery.body)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.item_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        }
        try:
            answer = await client.post(subscription.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if answer.is_success:
            return None
        return f"HTTP {answer.status_code}: {answer.text[:200]}"

    async def _queue_new_items(self) -> None:
        async with self._service.database.transaction() as session:
            subscriptions = list(await session.exec(select(WebhookSubscription)))
            if not subscriptions:
                return
            items: list[InboxItem] = []
            for source in self._sources:
                items.extend(await source.items(session))
            items = await positioned(session, items)
            now = self._service.clock.now()
            for subscription in subscriptions:
                kinds = {k for k in subscription.kinds.split(",") if k}
                for item in items:
                    if item.position <= subscription.cursor:
                        continue
                    if not kinds or item.kind in kinds:
                        session.add(
                            WebhookDelivery(
                                subscription_id=subscription.id,
                                item_id=item.item_id,
                                body=item.model_dump_json(),
                                next_attempt_at=now,
                            )
                        )
                    subscription.cursor = max(subscription.cursor, item.position)
                session.add(subscription)


class WebhookRequest(BaseModel):
    """Call ``url`` with every item of these kinds (every kind if none) from now on."""

    url: HttpUrl = PydanticField(description="http(s) URL the gateway POSTs each item to")
    kinds: list[str] = PydanticField(default_factory=list, description="inbox kinds; [] = all")


class WebhookView(BaseModel):
    id: str
    url: str
    kinds: list[str]
    created_at: datetime


class WebhookCreated(WebhookView):
    secret: str = PydanticField(description="shown once: verify each callback's signature with it")


def _view(row: WebhookSubscription) -> dict[str, Any]:
    kinds = [k for k in row.kinds.split(",") if k]
    return {"id": row.id, "url": row.url, "kinds": kinds, "created_at": row.created_at}


def add_webhook_routes(
    router: APIRouter,
    service: AgencyService,
    *,
    guard: Callable[..., Awaitable[str]],
    key_check: Callable[[str | None], None],
    refusals: dict[int | str, dict[str, Any]],
    ensure_tables: Callable[[], Awaitable[None]],
) -> None:
    """``/webhooks``: subscribe, list, unsubscribe, and the dead letters."""

    @router.post(
        "/webhooks",
        status_code=201,
        response_model=WebhookCreated,
        responses={400: {"model": Problem}, **refusals},
        summary="Be called back for each new inbox item",
    )
    async def subscribe(
        request: WebhookRequest,
        client: Annotated[str, Depends(guard)],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> WebhookCreated:
        """The answer carries the secret, once: keep it to verify every callback."""
        key_check(idempotency_key)
        await ensure_tables()
        now = service.clock.now()
        row = WebhookSubscription(
            id=new_ulid(),
            url=str(request.url),
            secret=new_secret(),
            kinds=",".join(request.kinds),
            client=client,
            created_at=now,
        )
        async with service.database.transaction() as session:
            session.add(row)
        return WebhookCreated(**_view(row), secret=row.secret)

    @router.get(
        "/webhooks",
        response_model=list[WebhookView],
        responses=refusals,
        summary="The webhook subscriptions",
    )
    async def subscriptions(client: Annotated[str, Depends(guard)]) -> list[WebhookView]:
        await ensure_tables()
        async with service.database.transaction() as session:
            rows = await session.exec(
                select(WebhookSubscription).order_by(col(WebhookSubscription.id))
            )
            return [WebhookView(**_view(row)) for row in rows]

    @router.delete(
        "/webhooks/{webhook_id}",
        status_code=204,
        responses={400: {"model": Problem}, **refusals},
        summary="Stop being called back",
    )
    async def unsubscribe(
        webhook_id: str,
        client: Annotated[str, Depends(guard)],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> None:
        key_check(idempotency_key)
        await ensure_tables()
        async with service.database.transaction() as session:
            row = await session.get(WebhookSubscription, webhook_id)
            if row is None:
                raise GatewayProblem("not-found", f"no webhook {webhook_id}")
            await session.delete(row)
            await session.exec(
                delete(WebhookDelivery)
                .where(col(WebhookDelivery.subscription_id) == webhook_id)
                .where(col(WebhookDelivery.state) != DEAD)
            )

    @router.get(
        "/webhooks/dead-letters",
        response_model=list[DeadLetter],
        responses=refusals,
        summary="Callbacks that failed their last attempt",
    )
    async def dead_letters(client: Annotated[str, Depends(guard)]) -> list[DeadLetter]:
        """What the operator must look at: the receiver never took these items."""
        await ensure_tables()
        async with service.database.transaction() as session:
            rows = await session.exec(
                select(WebhookDelivery, WebhookSubscription)
                .join(
                    WebhookSubscription,
                    col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
                    isouter=True,
                )
                .where(col(WebhookDelivery.state) == DEAD)
                .order_by(col(WebhookDelivery.seq))
            )
            return [
                DeadLetter(
                    delivery=delivery.seq or 0,
                    subscription_id=delivery.subscription_id,
                    url=subscription.url if subscription is not None else "",
                    item_id=delivery.item_id,
                    attempts=delivery.attempts,
                    last_error=delivery.last_error,
                    failed_at=delivery.finished_at,
                )
                for delivery, subscription in rows
            ]

    @router.post(
        "/webhooks/dead-letters/{delivery}/redeliver",
        status_code=202,
        responses={400: {"model": Problem}, **refusals},
        summary="Try a dead-lettered callback again",
    )
    async def redeliver(
        delivery: int,
        client: Annotated[str, Depends(guard)],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> None:
        key_check(idempotency_key)
        await ensure_tables()
        async with service.database.transaction() as session:
            row = await session.get(WebhookDelivery, delivery)
            if row is None or row.state != DEAD:
                raise GatewayProblem("not-found", f"no dead-lettered delivery {delivery}")
            row.state, row.attempts, row.finished_at = PENDING, 0, None
            row.next_attempt_at = service.clock.now()
            session.add(row)
