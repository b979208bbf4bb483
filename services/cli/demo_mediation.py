"""The demo's mediation part: a centre that joined through the adapter SDK (named only by its
registry entry) asks a court to confirm an agreement; the court answers through its gateway."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx

from contracts.cases import CaseStatus
from contracts.identifiers import new_ulid
from services.cli.demo_support import DemoFailed, until
from services.gateway import gateway_app
from services.mediation.app import MediationService
from services.mediation.domain import MediationAgreement
from services.sdk import Bus, LocalCaseRecord

__all__ = ["play_mediation"]

CENTRE = "mediation-shanghai"
COURT = "court-shanghai-ip"


async def play_mediation(bus: Bus, say: Callable[[str], None], *, pace: float) -> None:
    """Run the confirmation round trip; :class:`DemoFailed` when an expectation does not hold."""
    centre = bus.services.get(CENTRE)
    if centre is None or COURT not in bus.services:
        say(f"\n8. (mediation part skipped: {CENTRE} and {COURT} are not both running)")
        return
    if not isinstance(centre, MediationService):
        raise DemoFailed(f"{CENTRE} is not running as a MediationService")
    await asyncio.sleep(pace)
    say("\nM1. The Shanghai mediation centre asks the IP court to confirm a mediation agreement")
    agreement = MediationAgreement(
        case_id=new_ulid(),
        local_ref=f"SHMC-2026-{new_ulid()[-4:]}",
        title="Trademark licence dispute, Stride v. Haixin",
        parties=("Stride Athletic Co., Ltd.", "Haixin Trading Co., Ltd."),
        signed_by=("Stride Athletic Co., Ltd.", "Haixin Trading Co., Ltd."),
        effective_at=centre.clock.now() - timedelta(days=2),
        terms="licence fee of CNY 180,000; stock destroyed under supervision",
    )
    async with centre.unit_of_work() as uow:
        referral = await centre.request_confirmation(uow, agreement, court=COURT)
    say(f"   referral {referral.referral_id} (mediation_confirmation) → {COURT}")
    transport = httpx.ASGITransport(app=gateway_app(bus.services[COURT]))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as court:
        item = f"referral:{referral.referral_id}"
        await until(lambda: _in_inbox(court, item), "the referral in the court's inbox")
        say("   the court's case system reads it from its gateway inbox and acknowledges it")
        await court.post(f"/inbox/{item}/ack")
        for step, data in (
            ("referral.accepted", {"local_ref": "(2026)沪73民特1号"}),
            ("referral.concluded", {"outcome": "agreement confirmed; enforceable"}),
        ):
            data = {"referral_id": referral.referral_id, **data}
            answer = await court.post("/events", json={"type": step, "data": data})
            if answer.status_code != 202:
                raise DemoFailed(f"the court's gateway refused {step}: {answer.text}")
            say(f"   court → gateway: {step} (event {answer.json()['id']})")

    async def closed() -> bool:
        async with centre.database.transaction() as session:
            record = await session.get(LocalCaseRecord, agreement.case_id)
        return record is not None and record.status == CaseStatus.CLOSED.value

    await until(closed, "the mediation centre closing its case")
    say(f"   the centre closed {agreement.local_ref}: the court confirmed the agreement")


async def _in_inbox(court: httpx.AsyncClient, item_id: str) -> bool:
    items = (await court.get("/inbox", params={"pending": True})).json()
    return any(item["item_id"] == item_id for item in items)
