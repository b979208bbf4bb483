"""Rights holders through a desk on the real bus (issue 19 part 2), SQLite and PostgreSQL.

Customs finds suspected goods and notifies the holder (Decree 395 art. 16); the coordinator
routes the notice to the desk that represents the holder and watches the 3-working-day
window; the desk answers through its gateway as an agency system calls it, or through the
SDK: applied with a bond → customs detains (basis: after customs' notice); declined → the
goods go; silence → the coordinator's deadline fires and customs releases. A desk that
speaks for a holder it does not represent is dead-lettered with the reason, and no desk
ever sees the case or its parties.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from sqlmodel import select

from contracts.customs import DetentionBasis, GoodsDetained
from contracts.envelope import publish_subject
from contracts.holders import HolderApplied, HolderNotified
from contracts.identifiers import Money
from contracts.subjects import EVENT_STREAM, parse_event_subject, stored_filter
from services.cli.demo_support import detention
from services.coordinator.deadlines.store import DeadlineRecord
from services.customs.app import CustomsService
from services.customs.store import DetentionRecord
from services.holders.app import HolderDeskService
from services.holders.store import NoticeRecord
from services.runtime.bus import DLQ_DETAIL_HEADER, DLQ_REASON_HEADER, FixedClock, last_stored
from services.runtime.identity import Settings
from services.sdk import Bus, query_case
from tests.integration.conftest import StartBus, StartGateway
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
DESK = "holders-desk"
HOLDER = "Stride Athletic Co., Ltd."
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
# customs' own clock watch is slow on purpose: the coordinator's deadline must be what acts
POLICY = "[customs]\nwatch_seconds = 3600\n\n[referral_deadlines]\nwatch_seconds = 0.2\n"
BOND = Money(value="100000", currency="CNY")  # goods declared at RMB 360,000: the fixed band


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    return await start_bus(settings, ("coordinator", CUSTOMS, DESK), clock=clock, policy=POLICY)


def _customs(bus: Bus) -> CustomsService:
    found = bus.services[CUSTOMS]
    assert isinstance(found, CustomsService)
    return found


def _desk(bus: Bus) -> HolderDeskService:
    found = bus.services[DESK]
    assert isinstance(found, HolderDeskService)
    return found


async def _notified(bus: Bus) -> DetentionRecord:
    """Customs notifies the holder; returns once the desk holds the notice."""
    customs = _customs(bus)
    async with customs.unit_of_work() as uow:
        held = await customs.notify_rights_holder(uow, detention())
    await wait_until(
        lambda: _notice_state(bus, held.detention_id, "notified"), what="the desk's notice"
    )
    return held


async def _notice_state(bus: Bus, notice_id: str, state: str) -> bool:
    async with _desk(bus).database.transaction() as session:
        row = await session.get(NoticeRecord, notice_id)
    return row is not None and row.state == state


async def _detention(bus: Bus, detention_id: str) -> DetentionRecord:
    async with _customs(bus).database.transaction() as session:
        row = await session.get(DetentionRecord, detention_id)
    assert row is not None
    return row


async def _until_status(bus: Bus, detention_id: str, status: str) -> DetentionRecord:
    async def reached() -> bool:
        return (await _detention(bus, detention_id)).status == status

    await wait_until(reached, what=f"detention {detention_id} {status}")
    return await _detention(bus, detention_id)


async def _window(bus: Bus, notice_id: str) -> DeadlineRecord:
    async with bus.services["coordinator"].database.transaction() as session:
        row = await session.get(DeadlineRecord, (notice_id, "holder_window"))
    assert row is not None
    return row


async def _payloads_to(nc: Client, recipient: str) -> list[tuple[str, dict[str, object]]]:
    """Every (event type, data) on the stream addressed to ``recipient``."""
    js = nc.jetstream()
    info = await js.stream_info(EVENT_STREAM, subjects_filter=stored_filter(recipient=recipient))
    found: list[tuple[str, dict[str, object]]] = []
    for subject in info.state.subjects or {}:
        msg = await js.get_last_msg(EVENT_STREAM, subject)
        body = json.loads(msg.data or b"{}")
        found.append((parse_event_subject(subject).event_type, body["data"]))
    return found


@pytest.mark.timeout(90)
async def test_the_desk_applies_through_its_gateway_and_customs_detains_after_its_notice(
    bus: Bus, start_gateway: StartGateway
) -> None:
    held = await _notified(bus)
    window = await _window(bus, held.detention_id)
    assert (window.sender, window.recipient, window.status) == (CUSTOMS, DESK, "pending")
    assert window.rule_version == "customs.application_and_bond@2018-03-19"

    server = await start_gateway(_desk(bus))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        inbox = (await client.get("/inbox")).json()
        assert [item["item_id"] for item in inbox] == [f"notice:{held.detention_id}"]
        assert inbox[0]["case_id"] is None  # the desk is told of goods, not of the case
        body: dict[str, Any] = {
            "type": "holder.applied",
            "data": HolderApplied(
                notice_id=held.detention_id,
                holder=HOLDER,
                bond=BOND,
                application_ref="STRIDE-2026-031",
            ).model_dump(mode="json"),
        }
        key = {"Idempotency-Key": f"apply-{held.detention_id}"}
        first = await client.post("/events", json=body, headers=key)
        assert first.status_code == 202, first.text
        again = await client.post("/events", json=body, headers=key)  # a retry: same answer
        assert again.status_code == 202
        assert again.json() == first.json()
        stranger = {**body, "data": {**body["data"], "holder": "Some Other Brand Ltd."}}
        refused = await client.post("/events", json=stranger)
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "does not represent holder" in refused.json()["detail"]

    detained = await _until_status(bus, held.detention_id, "detained")
    assert detained.basis == DetentionBasis.EX_OFFICIO.value
    assert detained.bond_ref == "STRIDE-2026-031"
    assert (await _window(bus, held.detention_id)).status == "met"
    assert await _notice_state(bus, held.detention_id, "applied")
    registry = bus.services["coordinator"].metrics.families.registry
    for outcome in ("notified", "applied"):
        counted = registry.get_sample_value("ipbus_holder_notices_total", {"outcome": outcome})
        assert counted is not None
        assert counted >= 1

    nc = await nats.connect(bus.nats_url)
    try:
        js = nc.jetstream()
        msg = await last_stored(js, stored_filter(CUSTOMS, "coordinator", "goods.detained"))
        assert msg is not None
        event = GoodsDetained.model_validate(json.loads(msg.data or b"{}")["data"])
        assert event.basis is DetentionBasis.EX_OFFICIO
        assert event.rule_version == "customs.court_notice.ex_officio@2018-03-19"
        forwarded = stored_filter("coordinator", CUSTOMS, "holder.applied")
        info = await js.stream_info(EVENT_STREAM, subjects_filter=forwarded)
        subjects = info.state.subjects or {}
        assert list(subjects.values()) == [1]  # the retry carried nothing out twice
    finally:
        await nc.close()


@pytest.mark.timeout(60)
async def test_a_declined_notice_releases_the_goods(bus: Bus) -> None:
    held = await _notified(bus)
    desk = _desk(bus)
    async with desk.unit_of_work() as uow:
        await desk.decline_detention(uow, held.detention_id, reason="a licensed parallel import")
    released = await _until_status(bus, held.detention_id, "released")
    assert released.basis == DetentionBasis.EX_OFFICIO.value
    assert (await _window(bus, held.detention_id)).status == "met"


@pytest.mark.timeout(60)
async def test_a_holder_missing_its_window_the_coordinators_deadline_fires_and_customs_releases(
    bus: Bus, clock: FixedClock
) -> None:
    held = await _notified(bus)
    clock.advance(timedelta(days=2))  # Wednesday: still inside 3 working days
    bus.services["coordinator"].deadline_watch.wake()  # type: ignore[attr-defined]
    assert (await _window(bus, held.detention_id)).status == "pending"

    clock.advance(timedelta(days=2))  # Friday 6 March, 10:00: Thursday 24:00 has passed
    bus.services["coordinator"].deadline_watch.wake()  # type: ignore[attr-defined]
    await _until_status(bus, held.detention_id, "released")
    assert (await _window(bus, held.detention_id)).status == "overdue"
    registry = bus.services["coordinator"].metrics.families.registry
    assert registry.get_sample_value("ipbus_holder_notices_total", {"outcome": "lapsed"}) == 1
    await wait_until(lambda: _notice_state(bus, held.detention_id, "lapsed"), what="the desk told")

    desk = _desk(bus)  # too late now: the desk itself knows the window closed
    with pytest.raises(Exception, match="is lapsed"):
        async with desk.unit_of_work() as uow:
            await desk.apply_for_detention(
                uow, held.detention_id, bond=BOND, application_ref="LATE"
            )


@pytest.mark.timeout(60)
async def test_a_desk_speaking_for_a_holder_it_does_not_represent_is_dead_lettered(
    bus: Bus, settings: Settings, clock: FixedClock
) -> None:
    held = await _notified(bus)
    stranger = HolderApplied(
        notice_id=held.detention_id,
        holder="Some Other Brand Ltd.",
        bond=BOND,
        application_ref="X-1",
    )
    nc = await nats.connect(bus.nats_url)
    try:
        impostor = signed(settings, DESK, stranger, now=clock.now())
        await publish(nc, publish_subject(impostor, "coordinator"), impostor)
        # nor may the desk go around the coordinator to customs
        direct = HolderApplied(
            notice_id=held.detention_id, holder=HOLDER, bond=BOND, application_ref="X-2"
        )
        around = signed(settings, DESK, direct, now=clock.now())
        await publish(nc, publish_subject(around, CUSTOMS), around)
        letters = await dead_letters(nc, at_least=3)  # coordinator ×1, customs ×1, coord ×1
    finally:
        await nc.close()
    reasons = [
        ((m.headers or {}).get(DLQ_REASON_HEADER), (m.headers or {}).get(DLQ_DETAIL_HEADER, ""))
        for m in letters
    ]
    assert ("not_permitted", f"{DESK} does not represent holder 'Some Other Brand Ltd.'") in [
        (r, d) for r, d in reasons
    ]
    assert any("only as the coordinator forwards it" in (d or "") for _, d in reasons)
    assert (await _detention(bus, held.detention_id)).status == "notified"


@pytest.mark.timeout(60)
async def test_the_desk_sees_neither_the_case_nor_the_parties_personal_data(bus: Bus) -> None:
    held = await _notified(bus)
    nc = await nats.connect(bus.nats_url)
    try:
        assert (await query_case(nc, requester=DESK, case_id=held.case_id)).case is None
        assert (await query_case(nc, requester=CUSTOMS, case_id=held.case_id)).case is not None
        delivered = await _payloads_to(nc, DESK)
    finally:
        await nc.close()
    assert {event_type for event_type, _ in delivered} == {"holder.notified"}
    notice = HolderNotified.model_validate(delivered[0][1])
    assert notice.holder == HOLDER
    text = str(delivered)
    for personal in ("Haixin", "91350100M000100Y43", "consignee", "parties"):
        assert personal not in text
    async with _desk(bus).database.transaction() as session:
        rows = list(await session.exec(select(NoticeRecord)))
    assert [r.notice_id for r in rows] == [held.detention_id]
