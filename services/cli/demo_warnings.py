"""The demo's early-warning part: a warning routed and acknowledged, a repeat infringer
spotted by the coordinator, and an assistance request that leaves the country minimised.

Played on a bus where every agency of the registry runs (``ipbus demo``); it checks what
the coordinator reports and what actually crossed the wire, and raises :class:`DemoFailed`
when an expectation does not hold.
"""

import asyncio
import random
from datetime import timedelta

from nats.aio.client import Client
from sqlmodel import select

from contracts.agencies import AgencyKind, IpType, WarningCategory
from contracts.cases import Party, PartyKind, PartyRole
from contracts.envelope import Envelope
from contracts.identifiers import CREDIT_CODE_CHARSET, credit_code_check_char, new_ulid
from contracts.referrals import ReferralKind
from contracts.subjects import COORDINATOR, EVENT_STREAM, parse_event_subject, stored_filter
from contracts.warning_queries import WarningView
from contracts.warnings import Severity, WarningTargets
from services.cli.demo_support import DemoFailed, Say, eventually, running, service
from services.runtime.bus import last_stored
from services.runtime.privacy import MINIMISED_EXTENSION, MinimisationRecord
from services.sdk import AgencyAdapter, Bus, WarningRecord, query_case, query_warnings

__all__ = ["play_warnings"]

CENTRE = "overseas-center"
PORT = "customs-shanghai"
REGULATOR = "amr-shanghai"
OTHER_REGULATOR = "amr-guangdong"
ROUTED_TO = {PORT, REGULATOR}
AGENT_ID = "11010519491231002X"
AGENT_MOBILE = "138 1234 5678"


async def _coordinator_view(nc: Client, warning_id: str) -> WarningView | None:
    reply = await query_warnings(nc, requester=COORDINATOR)
    return next((w for w in reply.warnings if w.warning_id == warning_id), None)


def _company() -> Party:
    first17 = "91310000" + "".join(random.choices(CREDIT_CODE_CHARSET[10:], k=9))
    return Party(
        kind=PartyKind.LEGAL_PERSON,
        role=PartyRole.SUSPECT,
        name="Jinhai Shoes Trading Co., Ltd.",
        credit_code=first17 + credit_code_check_char(first17),
    )


async def play_warnings(bus: Bus, say: Say, *, pace: float = 0.0) -> None:
    """Play the early-warning steps; :class:`DemoFailed` when an expectation fails.

    Agencies the steps act as are started if the bus does not run them yet.
    """
    for agency_id in (CENTRE, PORT, REGULATOR, OTHER_REGULATOR):
        await running(bus, agency_id, AgencyAdapter)
    nc = await bus.connect(COORDINATOR, name="ipbus-demo-warnings")  # the hub's view
    try:
        await _counterfeit_route(bus, nc, say, pace)
        await _repeat_infringer(bus, nc, say, pace)
        await _assistance_abroad(bus, nc, say, pace)
        await _traffic(nc, say)
    finally:
        await nc.close()


async def _counterfeit_route(bus: Bus, nc: Client, say: Say, pace: float) -> None:
    await asyncio.sleep(pace)
    say("\nW1. The overseas centre warns of a counterfeit route into Shanghai (HS 6404)")
    centre = service(bus, CENTRE, AgencyAdapter)
    async with centre.unit_of_work() as uow:
        issued = await centre.issue_warning(
            uow,
            category=WarningCategory.COUNTERFEIT_ROUTE,
            severity=Severity.HIGH,
            title="Counterfeit STRIDE shoes shipped via Yangshan as generic footwear",
            body="Seized abroad: consignments declared under HS 6404 routed through Shanghai.",
            targets=WarningTargets(
                kinds=[AgencyKind.CUSTOMS, AgencyKind.ENFORCEMENT],
                regions=["310000"],
                ip_types=[IpType.TRADEMARK],
                hs_prefixes=["6404"],
            ),
            expires_at=centre.clock.now() + timedelta(days=30),
        )
    warning_id = issued.warning_id

    async def delivered() -> WarningView | None:
        view = await _coordinator_view(nc, warning_id)
        return view if view and view.deliveries else None

    view = await eventually(delivered, "routing of the counterfeit-route warning")
    for d in view.deliveries:
        say(f"   → {d.agency_id}: {'; '.join(d.reasons)}")
    if {d.agency_id for d in view.deliveries} != ROUTED_TO:
        raise DemoFailed(
            f"warning routed to {[d.agency_id for d in view.deliveries]}, not {ROUTED_TO}"
        )
    for agency_id in sorted(ROUTED_TO):
        officer = service(bus, agency_id, AgencyAdapter)

        async def arrived(desk: AgencyAdapter = officer) -> bool | None:
            async with desk.database.transaction() as session:
                return True if await session.get(WarningRecord, warning_id) else None

        await eventually(arrived, f"delivery to {agency_id}")
        async with officer.unit_of_work() as uow:
            await officer.acknowledge_warning(uow, warning_id, note="inspection ordered")

    async def acknowledged() -> WarningView | None:
        view = await _coordinator_view(nc, warning_id)
        done = view is not None and all(d.acknowledged_at for d in view.deliveries)
        return view if done else None

    await eventually(acknowledged, "both acknowledgements")
    say(f"   acknowledged by {', '.join(sorted(ROUTED_TO))}; no other agency received it")


async def _repeat_infringer(bus: Bus, nc: Client, say: Say, pace: float) -> None:
    await asyncio.sleep(pace)
    company = _company()
    say(f"\nW2. Two regulators open cases naming {company.name} ({company.credit_code})")
    cases = []
    for agency_id in (REGULATOR, OTHER_REGULATOR):
        regulator = service(bus, agency_id, AgencyAdapter)
        case_id = new_ulid()
        async with regulator.unit_of_work() as uow:
            await regulator.open_case(
                uow,
                case_id=case_id,
                local_ref=f"{agency_id.upper()}-{case_id[-6:]}",
                title="Counterfeit STRIDE shoes sold online",
                parties=[company],
            )
        cases.append(case_id)

    async def raised() -> WarningView | None:
        reply = await query_warnings(nc, requester=COORDINATOR)
        return next((w for w in reply.warnings if str(company.credit_code) in w.title), None)

    view = await eventually(raised, "the coordinator's repeat-infringer warning")
    if view.issuer != COORDINATOR or view.category is not WarningCategory.REPEAT_INFRINGER:
        raise DemoFailed(f"expected a repeat_infringer warning from the coordinator, got {view}")
    say(f"   the coordinator warns: {view.title}")
    say(f"   routed to {', '.join(d.agency_id for d in view.deliveries)}")
    regulator_nc = await bus.connect(REGULATOR, name="ipbus-demo-regulator")
    try:
        mine = await query_case(regulator_nc, requester=REGULATOR, case_id=cases[0])
    finally:
        await regulator_nc.close()
    hub = await query_case(nc, requester=COORDINATOR, case_id=cases[0])
    if hub.case is None or hub.case.linked_case_ids != [cases[1]]:
        raise DemoFailed(f"the coordinator does not link case {cases[0]} to {cases[1]}")
    if mine.case is None or mine.case.linked_case_ids:
        raise DemoFailed(f"{REGULATOR} was shown a linked case it is not party to")
    say(f"   linked cases: the coordinator sees {cases[1]}; {REGULATOR} sees none (not its case)")


async def _assistance_abroad(bus: Bus, nc: Client, say: Say, pace: float) -> None:
    await asyncio.sleep(pace)
    say("\nW3. The regulator asks the overseas centre for help; personal data is minimised")
    regulator = service(bus, REGULATOR, AgencyAdapter)
    case_id = new_ulid()
    summary = f"The exporter's agent (ID {AGENT_ID}, mobile {AGENT_MOBILE}) is sued in Germany."
    async with regulator.unit_of_work() as uow:
        await regulator.open_case(
            uow, case_id=case_id, local_ref=f"SH-AMR-{case_id[-6:]}", title="Suit abroad"
        )
        referral = await regulator.issue_referral(
            uow,
            case_id=case_id,
            to=CENTRE,
            kind=ReferralKind.OVERSEAS_ASSISTANCE,
            reason="Chinese exporter sued for infringement abroad",
            legal_basis="Outline on IP protection: overseas rights-protection assistance",
            summary=summary,
        )
    # as stored: the stream filed it under its case's partition
    subject = stored_filter(REGULATOR, CENTRE, "referral.issued", key=case_id)

    async def on_the_wire() -> Envelope | None:
        try:
            msg = await last_stored(nc.jetstream(), subject)
        except Exception:
            return None
        if msg is None:
            return None
        envelope = Envelope.model_validate_json(msg.data or b"")
        return envelope if envelope.data.get("referral_id") == referral.referral_id else None

    sent = await eventually(on_the_wire, "the assistance request on the wire")
    after = str(sent.data["summary"])
    say(f"   written:  {summary}")
    say(f"   sent:     {after}")
    fields = sent.extensions.get(MINIMISED_EXTENSION)
    async with regulator.unit_of_work() as uow:
        rows = await uow.session.exec(
            select(MinimisationRecord).where(MinimisationRecord.event_id == sent.id)
        )
        recorded = [f"{r.path} {r.action}" for r in rows]
    say(f"   dataclassification={sent.dataclassification}, {MINIMISED_EXTENSION}={fields}")
    say(f"   {REGULATOR}'s minimisation record: {', '.join(recorded) or 'nothing'}")
    if not recorded:
        raise DemoFailed("the minimisation was not recorded by the sender")
    if AGENT_ID in after or "1234" in after:
        raise DemoFailed("a resident id or phone number left the country")

    async def receipt() -> bool | None:
        async with regulator.unit_of_work() as uow:
            record = await regulator.referral(uow, referral.referral_id)
        return True if record.state == "acknowledged" else None

    await eventually(receipt, "the overseas centre's receipt")
    say("   the overseas centre acknowledged the minimised request")


async def _traffic(nc: Client, say: Say) -> None:
    info = await nc.jetstream().stream_info(
        EVENT_STREAM, subjects_filter=stored_filter(event_type="warning.>")
    )
    counts: dict[str, int] = {}
    for subject, count in (info.state.subjects or {}).items():
        event_type = parse_event_subject(subject).event_type
        counts[event_type] = counts.get(event_type, 0) + count
    say("   warning traffic: " + ", ".join(f"{t}×{n}" for t, n in sorted(counts.items())))
    missing = {"warning.issued", "warning.delivered", "warning.acknowledged"} - set(counts)
    if missing:
        raise DemoFailed(f"the bus carried no {', '.join(sorted(missing))}")
