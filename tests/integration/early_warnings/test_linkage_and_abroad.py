"""Linkage signals raised by the coordinator, linked cases, and what leaves the country."""

import random
import re

import pytest
from nats.aio.client import Client
from sqlmodel import select

from contracts.cases import Party, PartyKind, PartyRole
from contracts.envelope import DataClassification
from contracts.identifiers import CREDIT_CODE_CHARSET, credit_code_check_char, new_ulid
from contracts.referrals import ReferralKind, ReferralState
from services.runtime.privacy import MinimisationRecord
from services.sdk import Bus, ReferralRecord, query_case
from tests.integration.early_warnings.conftest import adapter, on_stream
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

RESIDENT_ID = "11010519491231002X"
MOBILE = "138 1234 5678"


def _company(role: PartyRole = PartyRole.SUSPECT) -> Party:
    letters = "".join(random.choice(CREDIT_CODE_CHARSET[10:]) for _ in range(8))
    first17 = "91310000" + letters + "7"
    return Party(
        kind=PartyKind.LEGAL_PERSON,
        role=role,
        name="Haixin Trading Co., Ltd.",
        credit_code=first17 + credit_code_check_char(first17),
    )


async def _open(bus: Bus, agency_id: str, party: Party) -> str:
    service = adapter(bus, agency_id)
    case_id = new_ulid()
    async with service.unit_of_work() as uow:
        await service.open_case(
            uow,
            case_id=case_id,
            local_ref=f"{agency_id.upper()}-{case_id[-6:]}",
            title="Counterfeit STRIDE shoes",
            parties=[party],
        )
    return case_id


async def test_a_company_in_cases_of_two_agencies_is_flagged_once_and_cases_are_linked(
    warning_bus: Bus, nc: Client
) -> None:
    company = _company()
    first = await _open(warning_bus, "amr-shanghai", company)
    second = await _open(warning_bus, "amr-guangdong", company)
    third = await _open(warning_bus, "amr-shanghai", company)

    async def flagged() -> list[str]:
        return [
            recipient
            for recipient, envelope in await on_stream(nc, "warning.delivered")
            if str(company.credit_code) in envelope.data["warning"]["title"]
        ]

    async def third_indexed() -> bool:
        reply = await query_case(nc, requester="coordinator", case_id=third)
        return reply.case is not None and len(reply.case.linked_case_ids) == 2

    await wait_until(third_indexed, what="the third case in the party index")

    async def all_flagged() -> bool:
        return len(await flagged()) >= 9

    await wait_until(all_flagged, what="the repeat-infringer warning's deliveries")
    raised = [
        envelope
        for _, envelope in await on_stream(nc, "warning.issued")
        if str(company.credit_code) in envelope.data["title"]
    ]
    assert [e.sender for e in raised] == ["coordinator"]
    assert raised[0].data["category"] == "repeat_infringer"
    # it points a regulator at the serious-violation list, and lists nobody by itself
    assert "consider listing it on the serious-violation list" in raised[0].data["body"]
    assert "credit.serious_violation@2021-09-01" in raised[0].data["body"]
    assert await on_stream(nc, "credit.listed") == []
    assert sorted(await flagged()) == sorted(
        [
            "amr-shanghai",
            "psb-shanghai",
            "procuratorate-shanghai",
            "court-shanghai-ip",
            "mediation-shanghai",
            "amr-guangdong",
            "psb-guangdong",
            "procuratorate-guangdong",
            "court-guangzhou-ip",
        ]
    )
    seen_by_coordinator = await query_case(nc, requester="coordinator", case_id=first)
    seen_by_party = await query_case(nc, requester="amr-shanghai", case_id=first)
    seen_by_stranger = await query_case(nc, requester="customs-shanghai", case_id=first)
    assert seen_by_coordinator.case is not None
    assert seen_by_party.case is not None
    assert sorted(seen_by_coordinator.case.linked_case_ids) == sorted([second, third])
    assert seen_by_party.case.linked_case_ids == [third]
    assert seen_by_stranger.case is None
    for recipient in ("psb-shanghai", "amr-shanghai"):  # a warning makes nobody a party
        assert (await query_case(nc, requester=recipient, case_id=second)).case is None


@pytest.mark.parametrize("role", [PartyRole.RIGHTS_HOLDER, PartyRole.CONSIGNEE])
async def test_a_rights_holder_or_consignee_in_three_cases_raises_no_repeat_infringer(
    warning_bus: Bus, nc: Client, role: PartyRole
) -> None:
    holder = _company(role)
    infringer = _company()  # the control: same cases, same agencies, in a suspect's role
    for agency_id in ("amr-shanghai", "amr-guangdong", "amr-shanghai"):
        await _open(warning_bus, agency_id, holder)
    for agency_id in ("amr-shanghai", "amr-guangdong", "amr-shanghai"):
        await _open(warning_bus, agency_id, infringer)

    async def raised_about(party: Party) -> list[str]:
        return [
            envelope.data["title"]
            for _, envelope in await on_stream(nc, "warning.issued")
            if str(party.credit_code) in envelope.data["title"]
        ]

    async def control_raised() -> bool:
        return len(await raised_about(infringer)) == 1

    # The holder's cases were filed (and any warning put in the outbox) before the control's.
    await wait_until(control_raised, what="the control infringer's warning")
    assert await raised_about(holder) == []


async def test_an_assistance_request_abroad_leaves_minimised_and_recorded(
    warning_bus: Bus, nc: Client
) -> None:
    person = Party(
        kind=PartyKind.NATURAL_PERSON,
        role=PartyRole.SUSPECT,
        name="Wang Fang",
        resident_id=RESIDENT_ID,
        phone=MOBILE,
        address="88 Century Avenue, Pudong",
    )
    case_id = await _open(warning_bus, "amr-shanghai", person)
    amr = adapter(warning_bus, "amr-shanghai")
    summaries = []
    for _ in range(2):
        async with amr.unit_of_work() as uow:
            referral = await amr.issue_referral(
                uow,
                case_id=case_id,
                to="overseas-center",
                kind=ReferralKind.OVERSEAS_ASSISTANCE,
                reason="the exporter's agent is being sued abroad",
                legal_basis="Outline on IP protection, overseas rights-protection assistance",
                summary=f"Agent ID {RESIDENT_ID}, mobile {MOBILE}; consignee Haixin Trading.",
            )

        async def acknowledged(referral_id: str = referral.referral_id) -> bool:
            async with amr.database.transaction() as session:
                row = await session.get(ReferralRecord, referral_id)
            return row is not None and row.state == ReferralState.ACKNOWLEDGED.value

        await wait_until(acknowledged, what="the overseas centre's receipt")
        sent = [e for r, e in await on_stream(nc, "referral.issued") if r == "overseas-center"]
        envelope = sent[-1]
        summary = envelope.data["summary"]
        assert RESIDENT_ID not in summary
        assert re.sub(r"[ -]", "", MOBILE) not in re.sub(r"[ -]", "", summary)
        assert "Haixin Trading" in summary
        assert envelope.dataclassification is DataClassification.CONFIDENTIAL
        assert envelope.extensions["minimisedfields"] == 1
        async with amr.database.transaction() as session:
            rows = (
                await session.exec(
                    select(MinimisationRecord).where(MinimisationRecord.event_id == envelope.id)
                )
            ).all()
        assert [(r.recipient, r.path, r.action) for r in rows] == [
            ("overseas-center", "summary", "pseudonymised")
        ]
        summaries.append(summary)
    assert summaries[0] == summaries[1]  # stable pseudonyms: the centre can correlate


async def test_the_overseas_centre_declines_what_is_not_an_assistance_request(
    warning_bus: Bus,
) -> None:
    amr = adapter(warning_bus, "amr-shanghai")
    case_id = await _open(warning_bus, "amr-shanghai", _company())
    async with amr.unit_of_work() as uow:
        referral = await amr.issue_referral(
            uow,
            case_id=case_id,
            to="overseas-center",
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason="suspected crime",
            legal_basis="Criminal Law art. 213",
            summary="sent to the wrong desk",
        )

    async def declined() -> bool:
        async with amr.database.transaction() as session:
            row = await session.get(ReferralRecord, referral.referral_id)
        return row is not None and row.state == ReferralState.DECLINED.value

    await wait_until(declined, what="the overseas centre's decline")
    async with amr.database.transaction() as session:
        row = await session.get(ReferralRecord, referral.referral_id)
    assert row is not None
    assert row.note is not None
    assert "overseas_assistance only" in row.note
