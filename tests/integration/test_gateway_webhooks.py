"""Webhooks (issue 21, part 2): a signed callback per inbox item, retried with backoff while the
receiver is down, taken once when it comes back; dead-lettered and listed for the operator
after the last attempt; the example receiver refuses forged and replayed callbacks. Real
nats-server, real databases, real HTTP both ways."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import col, select
from standardwebhooks import Webhook
from starlette.applications import Starlette

from contracts.identifiers import new_ulid
from services.gateway import WebhookDelivery, new_secret, receiver_app
from services.mediation.app import MediationService
from services.mediation.domain import MediationAgreement
from services.runtime.identity import Settings
from services.runtime.server import free_port
from services.sdk import Bus
from tests.integration.conftest import StartBus, StartGateway
from tests.integration.wire import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MEDIATION, COURT = "mediation-shanghai", "court-shanghai-ip"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", MEDIATION, COURT))


@contextlib.asynccontextmanager
async def serving(app: Starlette, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the receiver did not start"
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task


async def _refer(bus: Bus) -> str:
    mediation = bus.services[MEDIATION]
    assert isinstance(mediation, MediationService)
    now = mediation.clock.now()
    agreement = MediationAgreement(
        case_id=new_ulid(),
        local_ref="SHMC-2026-0007",
        title="licence dispute",
        parties=("A Co.", "B Co."),
        signed_by=("A Co.", "B Co."),
        effective_at=now - timedelta(days=1),
        terms="fee paid",
    )
    async with mediation.unit_of_work() as uow:
        referral = await mediation.request_confirmation(uow, agreement, court=COURT)
    return f"referral:{referral.referral_id}"


async def test_a_receiver_down_for_a_while_gets_each_item_once_and_a_dead_one_is_listed(
    bus: Bus, start_gateway: StartGateway
) -> None:
    gateway = await start_gateway(
        bus.services[COURT], webhook_attempts=6, webhook_backoff_seconds=0.3
    )
    receiver_port, never_port = free_port(), free_port()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as court:
        subscribed = await court.post(
            "/webhooks", json={"url": f"http://127.0.0.1:{receiver_port}/ipbus-webhook"}
        )
        assert subscribed.status_code == 201, subscribed.text
        secret = subscribed.json()["secret"]
        nobody = await court.post(
            "/webhooks", json={"url": f"http://127.0.0.1:{never_port}/ipbus-webhook"}
        )
        assert "secret" not in (await court.get("/webhooks")).text
        item_id = await _refer(bus)

        async def dead_lettered() -> bool:
            letters = (await court.get("/webhooks/dead-letters")).json()
            return any(letter["item_id"] == item_id for letter in letters)

        async def failed_twice() -> bool:
            async with bus.services[COURT].database.transaction() as session:
                row = (
                    await session.exec(
                        select(WebhookDelivery).where(
                            col(WebhookDelivery.subscription_id) == subscribed.json()["id"]
                        )
                    )
                ).first()
            return row is not None and row.attempts >= 2

        await wait_until(failed_twice, what="two failed attempts while the receiver is down")
        taken: list[dict[str, Any]] = []
        async with serving(receiver_app(secret, taken.append), receiver_port):

            async def received() -> bool:
                return bool(taken)

            await wait_until(received, what="the callback once the receiver is back")
            # the one nobody runs runs out of attempts meanwhile
            await wait_until(dead_lettered, what="the unreachable subscription's letter")
        assert [item["item_id"] for item in taken] == [item_id]
        assert taken[0]["kind"] == "referral"
        letters = (await court.get("/webhooks/dead-letters")).json()
        assert [letter["subscription_id"] for letter in letters] == [nobody.json()["id"]]
        assert letters[0]["attempts"] == 6
        assert "Connect" in letters[0]["last_error"]

        letter = letters[0]["delivery"]
        redone = await court.post(f"/webhooks/dead-letters/{letter}/redeliver")
        assert redone.status_code == 202
        assert not await dead_lettered()  # pending again, for the operator's next look


async def test_the_example_receiver_refuses_forged_and_replayed_callbacks() -> None:
    secret = new_secret()
    taken: list[dict[str, Any]] = []
    app = receiver_app(secret, taken.append)
    body = '{"item_id": "referral:01J0000000000000000000000A", "kind": "referral"}'

    def signed(
        key: str, at: datetime, item_id: str = "referral:01J0000000000000000000000A"
    ) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "webhook-id": item_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(key).sign(item_id, at, body),
        }

    now = datetime.now(UTC)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        forged = await client.post(
            "/ipbus-webhook", content=body, headers=signed(new_secret(), now)
        )
        assert forged.status_code == 401
        stale = now - timedelta(minutes=10)
        replayed = await client.post("/ipbus-webhook", content=body, headers=signed(secret, stale))
        assert replayed.status_code == 401
        tampered = signed(secret, now)
        altered = await client.post(
            "/ipbus-webhook", content=body.replace('referral"}', 'x"}'), headers=tampered
        )
        assert altered.status_code == 401
        assert taken == []

        first = await client.post("/ipbus-webhook", content=body, headers=signed(secret, now))
        assert first.status_code == 204
        again = await client.post("/ipbus-webhook", content=body, headers=signed(secret, now))
        assert again.status_code == 200  # taken already: answered, not handled twice
        assert len(taken) == 1
