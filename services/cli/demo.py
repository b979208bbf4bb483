"""The demo scenario: a border seizure that becomes an administrative penalty.

It plays the agencies' own systems, calling their adapters as an officer's application
would, and watches the coordinator's shared timeline as any party could. It exits 0 only
when every expectation holds.
"""

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts.agencies import IpType
from contracts.cases import CaseStatus, IpRight, Party, PartyKind, PartyRole
from contracts.identifiers import Money, new_ulid
from contracts.queries import CaseReply, CaseView
from contracts.referrals import ReferralKind, ReferralState
from contracts.subjects import COORDINATOR, event_subject
from services.cli.demo_mediation import play_mediation
from services.cli.demo_warnings import play_warnings
from services.cli.render import timeline_line
from services.customs.app import CustomsService
from services.customs.domain import Detention
from services.enforcement.app import EnforcementService
from services.runtime.adapter import AgencyService
from services.runtime.bootstrap import Bus
from services.runtime.errors import RetryableError
from services.runtime.queries import query_case

__all__ = ["DemoFailed", "run_demo"]

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
STRANGER = "customs-guangdong"
STEP_TIMEOUT_S = 15.0

ServiceT = TypeVar("ServiceT", bound=AgencyService)
Say = Callable[[str], None]


class DemoFailed(RuntimeError):
    """An expectation of the scenario did not hold; the message says which."""


def _service(bus: Bus, agency_id: str, cls: type[ServiceT]) -> ServiceT:
    service = bus.services.get(agency_id)
    if not isinstance(service, cls):
        raise DemoFailed(f"{agency_id} is not running as a {cls.__name__}")
    return service


class TimelineWatcher:
    """Polls the coordinator as the coordinator would show it, printing new entries."""

    def __init__(self, nc: Client, say: Say) -> None:
        self._nc = nc
        self._say = say
        self._printed: set[str] = set()

    async def wait_for(self, case_id: str, event_type: str, *, count: int = 1) -> CaseView:
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT_S
        while True:
            view = await self._poll(case_id)
            if view is not None and sum(e.event_type == event_type for e in view.timeline) >= count:
                return view
            if asyncio.get_running_loop().time() > deadline:
                raise DemoFailed(
                    f"the shared timeline of case {case_id} did not show {event_type} "
                    f"within {STEP_TIMEOUT_S:.0f}s"
                )
            await asyncio.sleep(0.05)

    async def _poll(self, case_id: str) -> CaseView | None:
        try:
            reply = await query_case(self._nc, requester=COORDINATOR, case_id=case_id)
        except RetryableError:
            return None
        if reply.case is None:
            return None
        for entry in reply.case.timeline:
            if entry.event_id not in self._printed:
                self._printed.add(entry.event_id)
                self._say(timeline_line(entry))
        return reply.case


def _detention() -> Detention:
    right = IpRight(
        type=IpType.TRADEMARK,
        registration_no="G1234567",
        holder="Stride Athletic Co., Ltd.",
        description="STRIDE word and device mark, class 25",
    )
    consignee = Party(
        kind=PartyKind.LEGAL_PERSON,
        role=PartyRole.CONSIGNEE,
        name="Haixin Trading Co., Ltd.",
        credit_code="91350100M000100Y43",
    )
    return Detention(
        local_ref=f"SH-CUS-2026-{new_ulid()[-6:]}",
        port="Yangshan Port, Shanghai",
        hs_code="640411",
        description="sports shoes bearing the STRIDE mark",
        quantity=1200,
        declared_value=Money(value=Decimal("360000.00"), currency="CNY"),
        ip_right=right,
        rights_holder="Stride Athletic Co., Ltd.",
        parties=(consignee,),
    )


async def run_demo(bus: Bus, say: Say, *, pace: float = 0.0) -> None:
    """Play the scenario on a started bus; raise :class:`DemoFailed` when it goes wrong.

    ``pace`` pauses between steps so a person can follow along.
    """
    customs = _service(bus, CUSTOMS, CustomsService)
    regulator = _service(bus, REGULATOR, EnforcementService)
    nc = await bus.connect(COORDINATOR, name="ipbus-demo")  # reads all, as the hub does
    try:
        watch = TimelineWatcher(nc, say)

        await asyncio.sleep(pace)
        say("\n1. Shanghai Customs detains 1,200 pairs of suspected counterfeit shoes")
        async with customs.unit_of_work() as uow:
            detention = await customs.detain_goods(uow, _detention())
        case_id = detention.case_id
        say(f"   case {case_id}")
        await watch.wait_for(case_id, "goods.detained")

        await asyncio.sleep(pace)
        say("\n2. Customs refers the case to the Shanghai market regulator")
        async with customs.unit_of_work() as uow:
            referral = await customs.issue_referral(
                uow,
                case_id=case_id,
                to=REGULATOR,
                kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
                reason="goods infringe a registered trademark; administrative penalty due",
                legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
                summary="1,200 pairs of STRIDE-branded shoes declared at 360,000 CNY",
                amount=Money(value=Decimal("360000.00"), currency="CNY"),
            )
        referral_id = referral.referral_id
        await watch.wait_for(case_id, "referral.acknowledged")

        await asyncio.sleep(pace)
        say("\n3. The regulator accepts, opens its own case and investigates")
        local_ref = "SH-AMR-2026-0117"
        async with regulator.unit_of_work() as uow:
            await regulator.accept_referral(uow, referral_id, local_ref=local_ref)
            await regulator.open_case(
                uow, case_id=case_id, local_ref=local_ref, title="Counterfeit STRIDE shoes"
            )
            await regulator.change_case_status(uow, case_id, CaseStatus.INVESTIGATING)
        await watch.wait_for(case_id, "case.status_changed")

        await asyncio.sleep(pace)
        say("\n4. The regulator imposes a fine and concludes the referral")
        async with regulator.unit_of_work() as uow:
            await regulator.impose_penalty(
                uow,
                case_id,
                illegal_volume=Money(value=Decimal("360000"), currency="CNY"),
                fine=Money(value=Decimal("900000"), currency="CNY"),
            )
            await regulator.conclude_referral(
                uow, referral_id, outcome="fine of 900,000 CNY; goods to be confiscated"
            )
        await watch.wait_for(case_id, "referral.concluded")

        await asyncio.sleep(pace)
        say("\n5. Customs confiscates the goods; both agencies close their part")
        async with customs.unit_of_work() as uow:
            await customs.confiscate_goods(
                uow, detention.detention_id, decision_ref="HU-GUAN-ZHI-2026-0117"
            )
            await customs.close_case(uow, case_id, outcome="goods confiscated")
        await watch.wait_for(case_id, "case.closed")
        async with regulator.unit_of_work() as uow:
            await regulator.close_case(uow, case_id, outcome="penalty paid")
        final = await watch.wait_for(case_id, "case.closed", count=2)

        await asyncio.sleep(pace)
        say("\n6. A malformed message is dead-lettered, and the bus carries on")
        sender = await bus.connect(CUSTOMS, name="ipbus-demo-customs")  # may speak as customs
        try:
            reason = await _send_garbage(nc, sender)
        finally:
            await sender.close()
        say(f"   IPBUS_DLQ received it: reason={reason}")

        await asyncio.sleep(pace)
        say("\n7. Need-to-know: an agency not party to the case cannot see it")
        stranger = await _ask_as(bus, STRANGER, case_id)
        party = await _ask_as(bus, CUSTOMS, case_id)
        say(f"   {STRANGER}: {stranger.error}")
        say(f"   {CUSTOMS}: sees {len(party.case.timeline) if party.case else 0} timeline entries")

        await play_mediation(bus, say, pace=pace, failed=DemoFailed)
        await play_warnings(bus, say, pace=pace, failed=DemoFailed)

        async with customs.unit_of_work() as uow:
            ledger = await customs.referral(uow, referral_id)
        _expect(final, ledger.state, stranger.case is None, party.case is not None)
        say(
            f"\nAll expectations hold: case {case_id} is {final.status.value}, referral "
            f"{ledger.state}, {len(final.timeline)} events on one shared timeline."
        )
    finally:
        await nc.close()


async def _ask_as(bus: Bus, agency_id: str, case_id: str) -> CaseReply:
    """Ask the coordinator with ``agency_id``'s own connection (the only one it may ask on)."""
    client = await bus.connect(agency_id, name=f"ipbus-demo-{agency_id}")
    try:
        return await query_case(client, requester=agency_id, case_id=case_id)
    finally:
        await client.close()


async def _send_garbage(nc: Client, sender: Client) -> str:
    """Publish a non-event on an event subject; return the reason the DLQ records."""
    arrived: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
    probe = new_ulid()

    async def on_dead_letter(msg: Msg) -> None:
        if (msg.headers or {}).get("Demo-Probe") == probe and not arrived.done():
            arrived.set_result(msg)

    subscription = await nc.subscribe("ipbus.dlq.>", cb=on_dead_letter)
    try:
        await sender.jetstream().publish(
            event_subject(CUSTOMS, COORDINATOR, "case.opened"),
            b"this is not a CloudEvent",
            headers={"Demo-Probe": probe},
        )
        try:
            msg = await asyncio.wait_for(arrived, STEP_TIMEOUT_S)
        except TimeoutError:
            raise DemoFailed("the malformed message never reached IPBUS_DLQ") from None
        return (msg.headers or {}).get("Ipbus-Dlq-Reason", "?")
    finally:
        await subscription.unsubscribe()


def _expect(final: CaseView, referral_state: str, stranger_refused: bool, party_sees: bool) -> None:
    expected_types = [
        "case.opened",
        "goods.detained",
        "referral.issued",
        "referral.acknowledged",
        "referral.accepted",
        "case.opened",
        "case.status_changed",
        "case.status_changed",
        "referral.concluded",
        "goods.confiscated",
        "case.closed",
        "case.closed",
    ]
    problems = []
    seen = [entry.event_type for entry in final.timeline]
    if seen != expected_types:
        problems.append(f"timeline was {seen}, expected {expected_types}")
    if final.status is not CaseStatus.CLOSED:
        problems.append(f"shared status is {final.status.value}, expected closed")
    if [r.state for r in final.referrals] != [ReferralState.CONCLUDED]:
        problems.append(f"coordinator's referral states are {[r.state for r in final.referrals]}")
    if referral_state != ReferralState.CONCLUDED.value:
        problems.append(f"customs' ledger says the referral is {referral_state}")
    if not stranger_refused:
        problems.append(f"{STRANGER} could read a case it is not party to")
    if not party_sees:
        problems.append(f"{CUSTOMS} could not read its own case")
    if problems:
        raise DemoFailed("; ".join(problems))
