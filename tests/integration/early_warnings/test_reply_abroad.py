"""DESIGN §6 on a real nats-server: the coordinator's answers to an overseas requester are
minimised like events sent abroad, recorded by the coordinator and counted."""

import json
import re

import pytest
from nats.aio.client import Client
from sqlmodel import select

from contracts.cases import CaseStatus, Party, PartyKind, PartyRole
from contracts.identifiers import new_ulid
from contracts.queries import CaseReply
from contracts.referrals import ReferralKind
from services.runtime.privacy import MinimisationRecord
from services.sdk import Bus, query_case
from tests.integration.early_warnings.conftest import adapter
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

RESIDENT_ID = "11010519491231002X"
OLD_ID = "110105491231002"
MOBILE = "138 1234 5678"
LANDLINE = "(021) 6123-4567"
EMAIL = "wang.fang@example.com.cn"
PASSPORT = "E12345678"
STREET = "世纪大道88号"
NAME = "王芳"

PERSONAL = (RESIDENT_ID, OLD_ID, "13812345678", "61234567", EMAIL, PASSPORT, STREET, NAME)


def _squeezed(text: str) -> str:
    return re.sub(r"[\s\-()]", "", text)


@pytest.mark.timeout(90)
async def test_an_overseas_party_reads_its_case_without_personal_data(
    warning_bus: Bus, nc: Client
) -> None:
    amr = adapter(warning_bus, "amr-shanghai")
    case_id = new_ulid()
    async with amr.unit_of_work() as uow:
        await amr.open_case(
            uow,
            case_id=case_id,
            local_ref="SH-ABROAD-1",
            title=f"嫌疑人{NAME}售假，电话 {MOBILE}，身份证 {RESIDENT_ID}",
            parties=[
                Party(
                    kind=PartyKind.NATURAL_PERSON,
                    role=PartyRole.SUSPECT,
                    name=NAME,
                    resident_id=RESIDENT_ID,
                )
            ],
        )
    async with amr.unit_of_work() as uow:
        await amr.issue_referral(
            uow,
            case_id=case_id,
            to="overseas-center",
            kind=ReferralKind.OVERSEAS_ASSISTANCE,
            reason="the agent is being sued abroad",
            legal_basis="Outline on IP protection, overseas rights-protection assistance",
            summary=f"Agent {NAME}, passport {PASSPORT}",
        )
    async with amr.unit_of_work() as uow:
        await amr.change_case_status(
            uow,
            case_id,
            CaseStatus.INVESTIGATING,
            note=f"old id {OLD_ID}; office {LANDLINE}; mail {EMAIL}; 地址：上海市浦东新区{STREET}",
        )

    views: list[CaseReply] = []

    async def both_see_one_timeline() -> bool:
        """Asked one after the other: the overseas centre's own receipt of the referral may
        be applied in between, so ask again until no event came between the two answers."""
        views[:] = [
            await query_case(nc, requester=requester, case_id=case_id)
            for requester in ("amr-shanghai", "overseas-center")
        ]
        home, away = (view.case for view in views)
        return (
            home is not None
            and away is not None
            and away.status is CaseStatus.INVESTIGATING
            and [e.event_id for e in home.timeline] == [e.event_id for e in away.timeline]
        )

    await wait_until(both_see_one_timeline, what="the overseas centre's view of its case")

    at_home, abroad = views
    assert at_home.case is not None
    assert abroad.case is not None
    home_text = json.dumps(at_home.model_dump(mode="json"), ensure_ascii=False)
    assert RESIDENT_ID in home_text  # a domestic party sees the case as it was written
    assert OLD_ID in home_text
    wire = json.dumps(abroad.model_dump(mode="json"), ensure_ascii=False)
    for value in PERSONAL:
        assert _squeezed(value) not in _squeezed(wire), value
    assert abroad.case.case_id == case_id  # and the same timeline (the wait above)

    coordinator = warning_bus.services["coordinator"]
    async with coordinator.database.transaction() as session:
        rows = (
            await session.exec(
                select(MinimisationRecord).where(MinimisationRecord.recipient == "overseas-center")
            )
        ).all()
    assert {row.event_id for row in rows} == {"query.case"}
    assert {row.path for row in rows} >= {"case.title"}
    counted = warning_bus.metrics.registry.get_sample_value(
        "ipbus_minimised_total",
        {"agency": "coordinator", "channel": "reply", "kind": "id"},
    )
    assert counted is not None
    assert counted >= 2
    sent = warning_bus.metrics.registry.get_sample_value(
        "ipbus_minimised_total",
        {"agency": "amr-shanghai", "channel": "event", "kind": "passport"},
    )
    assert sent == 1  # the referral's summary, minimised by its sender
