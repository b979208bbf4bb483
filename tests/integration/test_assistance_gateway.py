"""Assistance between regulators submitted by an agency system through the gateway's generic
``POST /events``: across provinces accepted, to anyone but another province's regulator
refused as problem details before anything leaves the desk."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contracts.cases import CaseOpened
from contracts.identifiers import new_ulid
from contracts.referrals import AssistancePurpose, ReferralIssued, ReferralKind, ReferralState
from services.runtime.identity import Settings
from services.sdk import Bus
from tests.integration.conftest import StartBus, StartGateway
from tests.integration.test_referral_kinds import until_state

pytestmark = pytest.mark.integration

AMR_SH = "amr-shanghai"
AMR_GD = "amr-guangdong"
COURT = "court-shanghai-ip"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, ("coordinator", AMR_SH, AMR_GD, COURT))


def _asking(case_id: str, to: str) -> dict[str, Any]:
    issued = ReferralIssued(
        referral_id=new_ulid(),
        case_id=case_id,
        kind=ReferralKind.REGULATOR_ASSISTANCE,
        reason="the supplier's warehouse is in Dongguan",
        legal_basis="SAMR Order 2 (rev. 2021), assistance letter",
        summary="inspect the warehouse",
        purpose=AssistancePurpose.INVESTIGATE_LEAD,
    )
    return {
        "type": "referral.issued",
        "case_id": case_id,
        "to": to,
        "data": issued.model_dump(mode="json"),
    }


@pytest.mark.timeout(60)
async def test_assistance_through_the_gateway(bus: Bus, start_gateway: StartGateway) -> None:
    case_id = new_ulid()
    opened = CaseOpened(
        local_ref="沪市监处〔2026〕70号",
        title="chargers",
        ip_rights=[],
        parties=[],
        goods=[],
        opened_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    server = await start_gateway(bus.services[AMR_SH])
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            body = {
                "type": "case.opened",
                "case_id": case_id,
                "data": opened.model_dump(mode="json"),
            }
            assert (await client.post("/events", json=body)).status_code == 202
            refused = await client.post("/events", json=_asking(case_id, COURT))
            assert refused.status_code == 409, refused.text
            assert refused.json()["type"] == "urn:ipbus:problem:step-refused"
            assert "from a regulator to a regulator" in refused.json()["detail"]
            asked = _asking(case_id, AMR_GD)
            accepted = await client.post("/events", json=asked)
            assert accepted.status_code == 202, accepted.text
    finally:
        await server.stop()
    await until_state(bus, AMR_SH, asked["data"]["referral_id"], ReferralState.ACKNOWLEDGED)
