"""A mediation centre — registered by its ``adapter`` field, not by the kind catalogue —
takes part in a confirmation scenario with a court; the court's officers work through the
agency-side HTTP gateway. Real nats-server, real databases, real HTTP."""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from contracts.cases import CaseStatus
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralKind, ReferralState
from services.cli.catalogue import CATALOGUE
from services.judicial.app import JudicialService
from services.mediation.app import MediationService
from services.mediation.domain import MediationAgreement
from services.runtime.bus import StepRefused
from services.runtime.identity import Settings
from services.sdk import Bus, LocalCaseRecord, ReferralRecord
from tests.integration.conftest import StartBus, StartGateway
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

MEDIATION = "mediation-shanghai"
COURT = "court-shanghai-ip"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", MEDIATION, COURT))


@pytest.fixture
async def gateways(
    bus: Bus, start_gateway: StartGateway
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The court's and the mediation centre's gateways, each on its own port."""
    async with contextlib.AsyncExitStack() as clients:
        found: dict[str, httpx.AsyncClient] = {}
        for agency in (COURT, MEDIATION):
            server = await start_gateway(bus.services[agency])
            found[agency] = await clients.enter_async_context(
                httpx.AsyncClient(base_url=server.url, timeout=10)
            )
        yield found


def _agreement(bus: Bus) -> MediationAgreement:
    now = bus.services[MEDIATION].clock.now()
    return MediationAgreement(
        case_id=new_ulid(),
        local_ref="SHMC-2026-0042",
        title="Trademark licence dispute, Acme v. Bright Shoes",
        parties=("Acme Trading Co.", "Bright Shoes Ltd."),
        signed_by=("Acme Trading Co.", "Bright Shoes Ltd."),
        effective_at=now - timedelta(days=3),
        terms="licence fee of CNY 180,000 paid in two instalments",
    )


async def _request_confirmation(bus: Bus) -> tuple[str, str]:
    mediation = bus.services[MEDIATION]
    assert isinstance(mediation, MediationService)
    agreement = _agreement(bus)
    async with mediation.unit_of_work() as uow:
        referral = await mediation.request_confirmation(uow, agreement, court=COURT)
    return agreement.case_id, referral.referral_id


async def _ledger(bus: Bus, agency: str, referral_id: str) -> ReferralRecord | None:
    async with bus.services[agency].database.transaction() as session:
        return await session.get(ReferralRecord, referral_id)


async def test_the_mediation_service_is_found_through_its_registry_entry(bus: Bus) -> None:
    assert type(bus.services[MEDIATION]) is MediationService
    assert type(bus.services[COURT]) is JudicialService
    assert MediationService not in CATALOGUE.values()


async def test_a_court_confirms_a_mediation_agreement_through_its_gateway(
    bus: Bus, gateways: dict[str, httpx.AsyncClient]
) -> None:
    court, centre = gateways[COURT], gateways[MEDIATION]
    case_id, referral_id = await _request_confirmation(bus)

    async def in_court_inbox() -> bool:
        items = (await court.get("/inbox", params={"pending": True})).json()
        return any(item["item_id"] == f"referral:{referral_id}" for item in items)

    await wait_until(in_court_inbox, what="the referral to reach the court's inbox")
    item = next(i for i in (await court.get("/inbox")).json() if i["case_id"] == case_id)
    assert item["sender"] == MEDIATION
    assert item["detail"]["referral_kind"] == ReferralKind.MEDIATION_CONFIRMATION.value
    assert item["state"] == ReferralState.ACKNOWLEDGED.value

    ack = await court.post(f"/inbox/referral:{referral_id}/ack")
    again = await court.post(f"/inbox/referral:{referral_id}/ack")
    assert ack.status_code == again.status_code == 200
    assert ack.json()["acknowledged_at"] == again.json()["acknowledged_at"]
    assert (await court.get("/inbox", params={"pending": True})).json() == []

    accepted = {"referral_id": referral_id, "local_ref": "(2026)沪73民特42号"}
    concluded = {"referral_id": referral_id, "outcome": "agreement confirmed"}
    steps: list[dict[str, Any]] = [
        {"type": "referral.accepted", "data": accepted},
        {"type": "ipbus.referral.concluded.v1", "data": concluded},
    ]
    for step in steps:
        answer = await court.post("/events", json=step)
        assert answer.status_code == 202, answer.text
        assert answer.json()["subject"] == case_id

    async def closed_at_the_centre() -> bool:
        async with bus.services[MEDIATION].database.transaction() as session:
            record = await session.get(LocalCaseRecord, case_id)
        return record is not None and record.status == CaseStatus.CLOSED.value

    await wait_until(closed_at_the_centre, what="the centre to close its case")
    sent = await _ledger(bus, MEDIATION, referral_id)
    assert sent is not None
    assert sent.state == ReferralState.CONCLUDED.value
    assert sent.local_ref == "(2026)沪73民特42号"

    async def coordinator_saw_everything() -> bool:
        answer = await centre.get(f"/cases/{case_id}")
        return answer.status_code == 200 and answer.json()["status"] == CaseStatus.CLOSED.value

    await wait_until(coordinator_saw_everything, what="the coordinator to close the case")
    view = (await court.get(f"/cases/{case_id}")).json()
    assert [r["state"] for r in view["referrals"]] == [ReferralState.CONCLUDED.value]
    assert {p["agency_id"] for p in view["parties"]} >= {MEDIATION, COURT}


async def test_the_gateway_names_the_invalid_field_and_refuses_illegal_steps(
    bus: Bus, gateways: dict[str, httpx.AsyncClient]
) -> None:
    court = gateways[COURT]
    case_id, referral_id = await _request_confirmation(bus)
    await wait_until(lambda: _received(bus, referral_id), what="the referral to reach the court")

    missing = await court.post(
        "/events", json={"type": "referral.declined", "data": {"referral_id": referral_id}}
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "data", "reason"]

    bad_type = await court.post("/events", json={"type": "referral.ignored", "data": {}})
    assert bad_type.status_code == 422
    assert bad_type.json()["errors"][0]["loc"] == ["body", "type"]

    automatic = await court.post(
        "/events",
        json={
            "type": "referral.acknowledged",
            "data": {"referral_id": referral_id, "receipt": "r"},
        },
    )
    assert automatic.status_code == 422
    assert "automatically" in automatic.json()["errors"][0]["msg"]

    too_early = await court.post(
        "/events",
        json={"type": "referral.concluded", "data": {"referral_id": referral_id, "outcome": "x"}},
    )
    assert too_early.status_code == 409
    assert "acknowledged" in too_early.json()["detail"]

    nowhere = await court.post(
        "/events",
        json={"type": "judgment.rendered", "to": "court-on-the-moon", "case_id": case_id,
              "data": {"case_id": case_id, "court_ref": "x", "verdict": "y",
                       "rendered_at": "2026-11-25T10:00:00Z"}},
    )  # fmt: skip
    assert nowhere.status_code == 422
    assert nowhere.json()["errors"][0]["loc"] == ["body", "to"]

    confirmation = {
        "referral_id": referral_id,
        "case_id": case_id,
        "confirmation_ref": "(2026)沪73民特42号",
        "confirmed": True,
    }
    sent = await court.post(
        "/events", json={"type": "confirmation.issued", "to": MEDIATION, "data": confirmation}
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["subject"] == case_id  # the envelope's subject taken from the payload
    mismatch = await court.post(
        "/events",
        json={"type": "confirmation.issued", "case_id": new_ulid(), "data": confirmation},
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"][0]["loc"] == ["body", "data", "case_id"]

    unknown_case = await court.get(f"/cases/{new_ulid()}")
    assert unknown_case.status_code == 404
    unknown_item = await court.post(f"/inbox/referral:{new_ulid()}/ack")
    assert unknown_item.status_code == 404
    record = await _ledger(bus, COURT, referral_id)
    assert record is not None
    assert record.state == ReferralState.ACKNOWLEDGED.value


async def _received(bus: Bus, referral_id: str) -> bool:
    return await _ledger(bus, COURT, referral_id) is not None


async def test_the_centre_refuses_to_send_an_agreement_a_party_has_not_signed(bus: Bus) -> None:
    mediation = bus.services[MEDIATION]
    assert isinstance(mediation, MediationService)
    agreement = _agreement(bus)
    unsigned = MediationAgreement(**{**agreement.__dict__, "signed_by": agreement.parties[:1]})
    with pytest.raises(StepRefused, match=r"not signed by every party: Bright Shoes Ltd\."):
        async with mediation.unit_of_work() as uow:
            await mediation.request_confirmation(uow, unsigned, court=COURT)
    async with mediation.database.transaction() as session:
        assert await session.get(LocalCaseRecord, agreement.case_id) is None
