"""The gateway's inbox for systems that page and hold a connection (issue 21, part 2): a cursor
(``position``) stable under concurrent arrivals, and long-poll (``?wait=``). Real nats-server,
real databases, real HTTP through uvicorn."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contracts.identifiers import new_ulid
from services.gateway import InboxItem, positioned
from services.mediation.app import MediationService
from services.mediation.domain import MediationAgreement
from services.runtime.identity import Settings
from services.sdk import Bus
from tests.integration.conftest import StartBus, StartGateway
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

MEDIATION, COURT = "mediation-shanghai", "court-shanghai-ip"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", MEDIATION, COURT))


@pytest.fixture
async def court(bus: Bus, start_gateway: StartGateway) -> AsyncIterator[httpx.AsyncClient]:
    server = await start_gateway(bus.services[COURT])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


async def _refer(bus: Bus, n: int) -> str:
    mediation = bus.services[MEDIATION]
    assert isinstance(mediation, MediationService)
    now = mediation.clock.now()
    agreement = MediationAgreement(
        case_id=new_ulid(),
        local_ref=f"SHMC-2026-{n:04d}",
        title="licence dispute",
        parties=("A Co.", "B Co."),
        signed_by=("A Co.", "B Co."),
        effective_at=now - timedelta(days=1),
        terms="fee paid",
    )
    async with mediation.unit_of_work() as uow:
        referral = await mediation.request_confirmation(uow, agreement, court=COURT)
    return f"referral:{referral.referral_id}"


async def test_paging_with_the_cursor_sees_every_item_once(
    bus: Bus, court: httpx.AsyncClient
) -> None:
    sent = [await _refer(bus, n) for n in range(3)]

    async def all_in() -> bool:
        return len((await court.get("/inbox")).json()) == 3

    await wait_until(all_in, what="three referrals in the court's inbox")
    first = (await court.get("/inbox", params={"limit": 2})).json()
    assert len(first) == 2
    cursor = first[-1]["position"]
    sent.append(await _refer(bus, 3))  # arrives while the client is paging

    async def four_in() -> bool:
        return len((await court.get("/inbox")).json()) == 4

    await wait_until(four_in, what="the fourth referral")
    rest = (await court.get("/inbox", params={"after": cursor, "limit": 10})).json()
    seen = [item["item_id"] for item in first + rest]
    assert sorted(seen) == sorted(sent)
    assert len(set(seen)) == 4
    positions = [item["position"] for item in first + rest]
    assert positions == sorted(positions)
    last = rest[-1]["position"]
    assert (await court.get("/inbox", params={"after": last})).json() == []


async def test_a_long_poll_answers_when_an_item_arrives(bus: Bus, court: httpx.AsyncClient) -> None:
    empty = await court.get("/inbox", params={"wait": 0.3})
    assert empty.json() == []  # nothing came: an empty answer once the wait is over
    waiting = asyncio.create_task(court.get("/inbox", params={"wait": 25}))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    item_id = await _refer(bus, 1)
    answer = await asyncio.wait_for(waiting, timeout=28)
    assert [item["item_id"] for item in answer.json()] == [item_id]


async def test_an_item_arriving_late_with_an_older_time_still_comes_after_the_cursor(
    bus: Bus,
) -> None:
    """Times are the senders'; a referral issued earlier may arrive later. Positions are
    handed out in the order the gateway first lists items, so it is not skipped."""

    def item(ref: str, minute: int) -> InboxItem:
        return InboxItem(
            item_id=f"referral:{ref}",
            kind="referral",
            sender=MEDIATION,
            case_id=None,
            state="issued",
            received_at=datetime(2026, 11, 30, 10, minute, tzinfo=UTC),
            acknowledged_at=None,
            detail={},
        )

    database = bus.services[COURT].database
    async with database.transaction() as session:
        before = await positioned(session, [item("B", 30)])
    cursor = before[-1].position
    async with database.transaction() as session:
        after = await positioned(session, [item("A", 10), item("B", 30)])
    late = next(i for i in after if i.item_id == "referral:A")
    assert late.position > cursor
    assert [i.item_id for i in after] == ["referral:B", "referral:A"]
