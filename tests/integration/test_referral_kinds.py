"""Every referral kind end to end on the real bus, with the procuratorate kept informed."""

import nats
import pytest

from contracts.identifiers import new_ulid
from contracts.queries import CaseView
from contracts.referrals import AssistancePurpose, ReferralKind, ReferralState
from services.runtime.identity import Settings
from services.sdk import SUPERVISED_KINDS, AgencyAdapter, Bus, ReferralRecord, query_case
from tests.integration.conftest import StartBus
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

ROUTES = {
    ReferralKind.CUSTOMS_TO_ENFORCEMENT: ("customs-shanghai", "amr-shanghai"),
    ReferralKind.CUSTOMS_TO_CRIMINAL: ("customs-shanghai", "psb-shanghai"),
    ReferralKind.ADMIN_TO_CRIMINAL: ("amr-shanghai", "psb-shanghai"),
    ReferralKind.CRIMINAL_TO_ADMIN: ("psb-shanghai", "amr-shanghai"),
    ReferralKind.MEDIATION_CONFIRMATION: ("amr-shanghai", "court-shanghai-ip"),
    ReferralKind.OVERSEAS_ASSISTANCE: ("amr-shanghai", "overseas-center"),
    ReferralKind.REGULATOR_ASSISTANCE: ("amr-shanghai", "amr-guangdong"),
}
SUPERVISOR = "procuratorate-shanghai"


@pytest.fixture
async def full_bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings)


async def ledger(bus: Bus, agency: str, referral_id: str) -> ReferralRecord | None:
    async with bus.services[agency].database.transaction() as session:
        return await session.get(ReferralRecord, referral_id)


async def until_state(bus: Bus, agency: str, referral_id: str, state: ReferralState) -> None:
    async def reached() -> bool:
        record = await ledger(bus, agency, referral_id)
        return record is not None and record.state == state.value

    await wait_until(reached, what=f"{agency} to see referral {referral_id} {state.value}")


async def shared_case(bus: Bus, case_id: str, requester: str = "coordinator") -> CaseView | None:
    nc = await nats.connect(bus.nats_url)
    try:
        return (await query_case(nc, requester=requester, case_id=case_id)).case
    finally:
        await nc.close()


@pytest.mark.parametrize("kind", list(ReferralKind))
async def test_every_kind_is_issued_acknowledged_accepted_and_concluded(
    full_bus: Bus, kind: ReferralKind
) -> None:
    sender_id, recipient_id = ROUTES[kind]
    sender, recipient = (
        full_bus.service_as(sender_id, AgencyAdapter),
        full_bus.service_as(recipient_id, AgencyAdapter),
    )
    case_id = new_ulid()
    async with sender.unit_of_work() as uow:
        await sender.open_case(uow, case_id=case_id, local_ref="REF-1", title=f"{kind.value} case")
        if kind is ReferralKind.REGULATOR_ASSISTANCE:
            referral = await sender.request_assistance(
                uow,
                case_id=case_id,
                to=recipient_id,
                purpose=AssistancePurpose.INVESTIGATE_LEAD,
                reason="test assistance",
                legal_basis="the assistance letter rule",
                summary="one matter",
            )
        else:
            referral = await sender.issue_referral(
                uow,
                case_id=case_id,
                to=recipient_id,
                kind=kind,
                reason="test transfer",
                legal_basis="the linkage rules",
                summary="one matter",
            )
    referral_id = referral.referral_id
    await until_state(full_bus, sender_id, referral_id, ReferralState.ACKNOWLEDGED)
    async with recipient.unit_of_work() as uow:
        await recipient.accept_referral(uow, referral_id, local_ref="THEIR-7")
    await until_state(full_bus, sender_id, referral_id, ReferralState.ACCEPTED)
    async with recipient.unit_of_work() as uow:
        await recipient.conclude_referral(uow, referral_id, outcome="done")
    await until_state(full_bus, sender_id, referral_id, ReferralState.CONCLUDED)

    received = await ledger(full_bus, recipient_id, referral_id)
    assert received is not None
    assert received.state == ReferralState.CONCLUDED.value
    assert received.receipt is not None
    assert received.local_ref == "THEIR-7"
    # The procuratorate supervises criminal filing and the way back, not civil mediation,
    # a lead between two regulators, or overseas assistance (SUPERVISED_KINDS).
    supervised = kind in SUPERVISED_KINDS
    assert received.supervisor == (SUPERVISOR if supervised else None)
    if supervised:
        await until_state(full_bus, SUPERVISOR, referral_id, ReferralState.CONCLUDED)
        copy = await ledger(full_bus, SUPERVISOR, referral_id)
        assert copy is not None
        assert copy.role == "supervisor"

    async def concluded_on_the_shared_file() -> bool:
        case = await shared_case(full_bus, case_id)
        return case is not None and case.referrals[0].state is ReferralState.CONCLUDED

    await wait_until(concluded_on_the_shared_file, what="the coordinator to see the conclusion")
    case = await shared_case(full_bus, case_id, requester=recipient_id)
    assert case is not None
    steps = [e.event_type for e in case.timeline if e.event_type != "referral.copied"]
    assert steps == [
        "case.opened",
        "referral.issued",
        "referral.acknowledged",
        "referral.accepted",
        "referral.concluded",
    ]
    assert (await shared_case(full_bus, case_id, requester="customs-guangdong")) is None
    if not supervised:  # never copied, so never a party
        assert await ledger(full_bus, SUPERVISOR, referral_id) is None
        assert (await shared_case(full_bus, case_id, requester=SUPERVISOR)) is None
