"""The gateway's contract for a client that retries (issue 21, parts 1 and 3): an
``Idempotency-Key`` returns the first answer and carries nothing out twice, even through a
new gateway on the same database; every refusal is RFC 9457 problem details with a stable
``type``; 429 with ``Retry-After`` past the per-client limit. Real nats-server, real
databases, real HTTP through uvicorn."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, func, select

from contracts.cases import CaseOpened
from contracts.identifiers import new_ulid
from services.gateway import GatewayProblem, IdempotencyKeys, IdempotencyRecord
from services.runtime.bus import OutboxRecord
from services.runtime.identity import Settings
from services.sdk import Bus
from tests.integration.conftest import StartBus, StartGateway

pytestmark = pytest.mark.integration

COURT = "court-shanghai-ip"
PROBLEM = "application/problem+json"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", COURT))


def _opening(case_id: str, title: str = "counterfeit handbags") -> dict[str, Any]:
    opened = CaseOpened(
        local_ref="(2026)沪73知民初1号",
        title=title,
        ip_rights=[],
        parties=[],
        goods=[],
        opened_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    return {"type": "case.opened", "case_id": case_id, "data": opened.model_dump(mode="json")}


async def _outbox_rows(bus: Bus) -> int:
    async with bus.services[COURT].database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxRecord)) or 0)


@contextlib.asynccontextmanager
async def _serve(
    start_gateway: StartGateway, bus: Bus, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new court gateway, stopped at the end (by the fixture if this fails)."""
    server = await start_gateway(bus.services[COURT], **options)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client
    await server.stop()


async def test_a_retry_with_the_same_key_gets_the_first_answer_even_from_a_new_gateway(
    bus: Bus, start_gateway: StartGateway
) -> None:
    case_id = new_ulid()
    body = _opening(case_id)
    key = {"Idempotency-Key": "open-" + case_id}
    async with _serve(start_gateway, bus) as client:
        first = await client.post("/events", json=body, headers=key)
        assert first.status_code == 202, first.text
        rows = await _outbox_rows(bus)
        again = await client.post("/events", json=body, headers=key)
        assert (again.status_code, again.json()) == (202, first.json())
        assert await _outbox_rows(bus) == rows  # nothing carried out again
        unkeyed = await client.post("/events", json=body)
        assert unkeyed.status_code == 409  # without a key the retry IS a second opening
        assert unkeyed.headers["content-type"] == PROBLEM
        assert unkeyed.json()["type"] == "urn:ipbus:problem:step-refused"

        other = await client.post("/events", json=_opening(case_id, "other"), headers=key)
        assert other.status_code == 422
        assert other.json()["type"] == "urn:ipbus:problem:idempotency-key-reused"
    async with _serve(start_gateway, bus) as client:  # the answer outlives its gateway
        reordered = dict(reversed(list(body.items())))  # same request, other key order
        later = await client.post("/events", json=reordered, headers=key)
        assert (later.status_code, later.json()) == (202, first.json())
        assert await _outbox_rows(bus) == rows
    async with bus.services[COURT].database.transaction() as session:
        stored = (
            await session.exec(
                select(IdempotencyRecord).where(
                    col(IdempotencyRecord.key) == key["Idempotency-Key"]
                )
            )
        ).one()
        assert stored.status == 202


async def test_a_key_in_flight_is_refused_with_409() -> None:
    keys = IdempotencyKeys()
    async with keys.claimed("k-1"):
        with pytest.raises(GatewayProblem) as refused:
            async with keys.claimed("k-1"):
                pass
        async with keys.claimed("k-2"):
            pass
    assert refused.value.status_code == 409
    assert refused.value.slug == "idempotency-key-in-flight"
    async with keys.claimed("k-1"):  # released with its request
        pass


async def test_once_required_a_mutating_request_without_a_key_is_refused(
    bus: Bus, start_gateway: StartGateway
) -> None:
    async with _serve(start_gateway, bus, require_idempotency_key=True) as client:
        missing = await client.post("/events", json=_opening(new_ulid()))
        assert missing.status_code == 400
        assert missing.json()["type"] == "urn:ipbus:problem:idempotency-key-missing"
        ack = await client.post(f"/inbox/referral:{new_ulid()}/ack")
        assert ack.json()["type"] == "urn:ipbus:problem:idempotency-key-missing"
        reads = await client.get("/inbox")
        assert reads.status_code == 200  # reading needs no key
        keyed = await client.post(
            "/events", json=_opening(new_ulid()), headers={"Idempotency-Key": "x"}
        )
        assert keyed.status_code == 202, keyed.text


async def test_every_refusal_is_problem_details_with_a_stable_type(
    bus: Bus, start_gateway: StartGateway
) -> None:
    auth = {"Authorization": "Bearer t0ken"}
    options: dict[str, Any] = {"token": "t0ken", "max_body_bytes": 4096, "rate_limit": "5/minute"}
    async with _serve(start_gateway, bus, **options) as client:
        unauthorised = await client.get("/inbox")
        assert unauthorised.status_code == 401
        assert unauthorised.headers["content-type"] == PROBLEM
        assert unauthorised.json()["type"] == "urn:ipbus:problem:unauthorized"

        invalid = await client.post(
            "/events", json={"type": "referral.declined", "data": {}}, headers=auth
        )
        problem = invalid.json()
        assert (invalid.status_code, problem["status"]) == (422, 422)
        assert problem["type"] == "urn:ipbus:problem:invalid-request"
        assert ["body", "data", "referral_id"] in [e["loc"] for e in problem["errors"]]
        assert "data.referral_id" in problem["detail"]

        unknown = await client.get(f"/cases/{new_ulid()}", headers=auth)
        assert unknown.json()["type"] in {
            "urn:ipbus:problem:not-found",
            "urn:ipbus:problem:unavailable",
        }
        too_large = await client.post("/events", content=b"{" + b" " * 5000 + b"}", headers=auth)
        assert too_large.status_code == 413
        assert too_large.headers["content-type"] == PROBLEM
        assert too_large.json()["type"] == "urn:ipbus:problem:body-too-large"

        answers = [await client.get("/inbox", headers=auth) for _ in range(4)]
        limited = answers[-1]  # 5 per minute: 3 above, then 2 fine and one over
        assert [a.status_code for a in answers[:2]] == [200, 200]
        assert limited.status_code == 429
        assert limited.json()["type"] == "urn:ipbus:problem:rate-limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await client.get("/inbox")).status_code == 401  # judged before the limit


async def test_answers_are_kept_for_the_retention_and_forgotten_after(bus: Bus) -> None:
    """At least 24 h (the draft's figure): the setting cannot go lower; older keys go."""
    with pytest.raises(ValueError, match="greater than or equal to 24"):
        Settings(gateway_idempotency_hours=12)
    service = bus.services[COURT]
    now = service.clock.now()
    keys = IdempotencyKeys(retention=timedelta(hours=48))
    async with service.database.transaction() as session:
        for key, age in (("day-old", 25), ("three-days-old", 72)):
            session.add(
                IdempotencyRecord(
                    key=key,
                    digest="d" * 64,
                    status=202,
                    answer="{}",
                    created_at=now - timedelta(hours=age),
                )
            )
    async with service.unit_of_work() as uow:
        await keys.prune(uow)
    async with service.database.transaction() as session:
        left = set((await session.exec(select(col(IdempotencyRecord.key)))).all())
    assert {"day-old", "three-days-old"} & left == {"day-old"}
