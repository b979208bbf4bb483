"""The demo's rights-holder part: customs' notices answered by a holders' desk.

The desk (kind ``rightsholders``, ``holders-desk`` in the registry) speaks for the holder
of the STRIDE mark. Its system reads customs' notice from its gateway inbox and applies
for detention with the bond the GAC's measures require (a retry with the same
``Idempotency-Key`` changes nothing); a second notice it declines; it may not speak for a
holder it does not represent, and it never sees the case behind a notice.
"""

import asyncio
from collections.abc import Callable

import httpx

from contracts.customs import DetentionBasis
from contracts.identifiers import Money
from services.cli.demo_support import DemoFailed, detention, until
from services.customs.app import CustomsService
from services.customs.store import DetentionRecord
from services.gateway import gateway_app
from services.holders.app import HolderDeskService
from services.sdk import Bus, query_case

__all__ = ["play_holders"]

CUSTOMS = "customs-shanghai"
DESK = "holders-desk"
HOLDER = "Stride Athletic Co., Ltd."
BOND = Money(value="100000", currency="CNY")
"""Goods declared at RMB 360,000: over RMB 200,000, so RMB 100,000 (customs.bond.ex_officio)."""


async def play_holders(bus: Bus, say: Callable[[str], None], *, pace: float) -> None:
    """Notice → application by gateway → detention; notice → decline → release; a desk
    speaking for another holder refused; the case out of the desk's sight."""
    desk, customs = bus.services.get(DESK), bus.services.get(CUSTOMS)
    if not isinstance(desk, HolderDeskService) or not isinstance(customs, CustomsService):
        say(f"\nH. (rights-holder part skipped: {DESK} and {CUSTOMS} are not both running)")
        return
    await asyncio.sleep(pace)
    say(
        "\nH1. Customs notifies the STRIDE holder of a third shipment; the coordinator routes "
        f"the notice to {DESK}, the desk that represents the holder"
    )
    async with customs.unit_of_work() as uow:
        held = await customs.notify_rights_holder(
            uow, detention(description="sports bags bearing the STRIDE mark", hs_code="420292")
        )
    transport = httpx.ASGITransport(app=gateway_app(desk))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as gateway:
        item = f"notice:{held.detention_id}"
        await until(lambda: _in_inbox(gateway, item), "the notice in the desk's inbox")
        say("   the holder's system reads it from the desk's gateway inbox (goods, no parties)")
        data: dict[str, object] = {
            "notice_id": held.detention_id,
            "holder": HOLDER,
            "bond": BOND.model_dump(mode="json"),
            "application_ref": f"STRIDE-APP-{held.detention_id[-6:]}",
        }
        body = {"type": "holder.applied", "data": data}
        key = {"Idempotency-Key": f"apply-{held.detention_id}"}
        first = await gateway.post("/events", json=body, headers=key)
        again = await gateway.post("/events", json=body, headers=key)
        if first.status_code != 202 or again.json() != first.json():
            raise DemoFailed(f"the desk's gateway did not take the application: {first.text}")
        say(f"   desk → gateway: holder.applied with a bond of {BOND.value} {BOND.currency}")
        say("   (sent twice with one Idempotency-Key: one application on the bus)")
        detained = await _until_status(customs, held.detention_id, "detained")
        if detained.basis != DetentionBasis.EX_OFFICIO.value:
            raise DemoFailed(f"detained on basis {detained.basis}, not after customs' notice")
        say("   customs detains: basis ex_officio (the holder applied after customs' notice)")

        await asyncio.sleep(pace)
        say("\nH2. A fourth shipment: the holder declines, and the goods are released")
        async with customs.unit_of_work() as uow:
            declined = await customs.notify_rights_holder(
                uow, detention(description="caps bearing the STRIDE mark", hs_code="650500")
            )
        await until(
            lambda: _in_inbox(gateway, f"notice:{declined.detention_id}"), "the second notice"
        )
        async with desk.unit_of_work() as uow:
            await desk.decline_detention(
                uow, declined.detention_id, reason="licensed goods from an authorised factory"
            )
        await _until_status(customs, declined.detention_id, "released")
        say("   desk → holder.declined; customs releases the goods")

        say("\nH3. The desk may speak only for the holders it represents")
        stranger = {**data, "holder": "Some Other Brand Ltd."}
        refused = await gateway.post("/events", json={"type": "holder.applied", "data": stranger})
        if refused.status_code < 400:
            raise DemoFailed("the desk spoke for a holder it does not represent")
        say(f"   refused ({refused.status_code}): {refused.json().get('detail')}")
    nc = await bus.connect(DESK, name="ipbus-demo-desk")
    try:
        reply = await query_case(nc, requester=DESK, case_id=held.case_id)
    finally:
        await nc.close()
    if reply.case is not None:
        raise DemoFailed("the desk could see the case behind its notice")
    say(f"   and asked for the case behind its notice, the desk gets: {reply.error}")


async def _in_inbox(gateway: httpx.AsyncClient, item_id: str) -> bool:
    items = (await gateway.get("/inbox")).json()
    return any(item["item_id"] == item_id for item in items)


async def _until_status(customs: CustomsService, detention_id: str, status: str) -> DetentionRecord:
    found: list[DetentionRecord] = []

    async def reached() -> bool:
        async with customs.database.transaction() as session:
            record = await session.get(DetentionRecord, detention_id)
        if record is not None and record.status == status:
            found.append(record)
        return bool(found)

    await until(reached, f"detention {detention_id} {status}")
    return found[-1]
