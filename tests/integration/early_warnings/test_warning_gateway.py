"""A delivered warning in the agency's gateway inbox; acknowledging it there tells the hub."""

import httpx
import pytest
from nats.aio.client import Client

from services.sdk import Bus, query_warnings
from tests.integration.conftest import StartGateway
from tests.integration.early_warnings.conftest import held_warning
from tests.integration.early_warnings.test_warning_routing import _issue
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

PORT = "customs-shanghai"


async def test_a_warning_acknowledged_through_the_gateway_reaches_the_coordinator(
    warning_bus: Bus, nc: Client, start_gateway: StartGateway
) -> None:
    warning_id = await _issue(warning_bus)

    async def held() -> bool:
        return await held_warning(warning_bus, PORT, warning_id) is not None

    await wait_until(held, what="the warning to reach customs")
    server = await start_gateway(warning_bus.services[PORT])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        inbox = (await client.get("/inbox")).json()
        [item] = [i for i in inbox if i["kind"] == "warning"]
        assert item["item_id"] == f"warning:{warning_id}"
        assert item["state"] == "delivered"
        assert item["detail"]["category"] == "counterfeit_route"
        first = await client.post(f"/inbox/warning:{warning_id}/ack")
        again = await client.post(f"/inbox/warning:{warning_id}/ack")
        assert first.status_code == again.status_code == 200
        assert first.json()["acknowledged_at"] == again.json()["acknowledged_at"]
        missing = await client.post("/inbox/warning:01M89FX4AS1CT6NG9ZSCRN1208/ack")
        assert missing.status_code == 404
    await server.stop()

    async def acknowledged_at_the_hub() -> bool:
        reply = await query_warnings(nc, requester="coordinator")
        [view] = [w for w in reply.warnings if w.warning_id == warning_id]
        return any(d.agency_id == PORT and d.acknowledged_at for d in view.deliveries)

    await wait_until(acknowledged_at_the_hub, what="the coordinator to record the ack")
    record = await held_warning(warning_bus, PORT, warning_id)
    assert record is not None
    assert record.acknowledged_at is not None
