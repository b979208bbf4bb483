"""Early warnings on the real bus: exactly the matched agencies receive each warning."""

import asyncio
from datetime import timedelta

import pytest
from nats.aio.client import Client
from typer.testing import CliRunner

from contracts.agencies import AgencyKind, IpType, WarningCategory
from contracts.warnings import Severity, WarningTargets
from services.cli.main import app
from services.coordinator.app import CoordinatorService
from services.runtime.bus import FixedClock
from services.sdk import Bus, query_warnings
from tests.integration.early_warnings.conftest import (
    AGENCIES,
    START,
    adapter,
    held_warning,
    on_stream,
)
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration


async def _issue(
    bus: Bus,
    *,
    severity: Severity = Severity.HIGH,
    expires_in: timedelta = timedelta(days=7),
    issuer: str = "overseas-center",
) -> str:
    centre = adapter(bus, issuer)
    async with centre.unit_of_work() as uow:
        record = await centre.issue_warning(
            uow,
            category=WarningCategory.COUNTERFEIT_ROUTE,
            severity=severity,
            title="Counterfeit STRIDE shoes routed via Yangshan",
            body="Shipments of counterfeit STRIDE shoes declared as generic footwear.",
            targets=WarningTargets(
                kinds=[AgencyKind.CUSTOMS, AgencyKind.ENFORCEMENT],
                regions=["310000"],
                ip_types=[IpType.TRADEMARK],
                hs_prefixes=["6404"],
            ),
            expires_at=START + expires_in,
        )
    return record.warning_id


async def _stream_deliveries(nc: Client, warning_id: str, event_type: str) -> list[str]:
    """Recipients of every ``event_type`` message about ``warning_id`` on the IPBUS stream."""
    return sorted(
        recipient
        for recipient, envelope in await on_stream(nc, event_type)
        if envelope.data.get("warning_id") == warning_id
    )


async def _deliveries_settled(bus: Bus, warning_id: str, expected: set[str]) -> None:
    async def all_held() -> bool:
        held = [await held_warning(bus, a, warning_id) for a in expected]
        return all(h is not None for h in held)

    await wait_until(all_held, what=f"warning {warning_id} to reach {sorted(expected)}")


async def test_a_counterfeit_route_warning_reaches_exactly_the_matched_agencies(
    warning_bus: Bus, nc: Client
) -> None:
    warning_id = await _issue(warning_bus)
    matched = {"customs-shanghai", "amr-shanghai"}
    await _deliveries_settled(warning_bus, warning_id, matched)
    for agency in set(AGENCIES) - matched - {"coordinator", "overseas-center"}:
        assert await held_warning(warning_bus, agency, warning_id) is None, agency
    assert await _stream_deliveries(nc, warning_id, "warning.delivered") == sorted(matched)
    reply = await query_warnings(nc, requester="coordinator")
    [view] = [w for w in reply.warnings if w.warning_id == warning_id]
    reasons = {d.agency_id: d.reasons for d in view.deliveries}
    assert "hs_prefix: 6404~64" in reasons["customs-shanghai"]
    assert "hs_prefix: no HS preference" in reasons["amr-shanghai"]


async def test_acknowledgements_are_tracked_per_agency_and_visible_need_to_know(
    warning_bus: Bus, nc: Client
) -> None:
    warning_id = await _issue(warning_bus)
    await _deliveries_settled(warning_bus, warning_id, {"customs-shanghai", "amr-shanghai"})
    customs = adapter(warning_bus, "customs-shanghai")
    async with customs.unit_of_work() as uow:
        await customs.acknowledge_warning(uow, warning_id, note="inspecting HS 6404 at Yangshan")

    async def acknowledged() -> bool:
        reply = await query_warnings(nc, requester="overseas-center")
        states = {d.agency_id: d.acknowledged_at for d in reply.warnings[0].deliveries}
        return states["customs-shanghai"] is not None

    await wait_until(acknowledged, what="the coordinator to record the acknowledgement")
    issuer_view = (await query_warnings(nc, requester="overseas-center")).warnings[0]
    assert {d.agency_id: d.acknowledged_at is not None for d in issuer_view.deliveries} == {
        "amr-shanghai": False,
        "customs-shanghai": True,
    }
    recipient_view = (await query_warnings(nc, requester="amr-shanghai")).warnings[0]
    assert [d.agency_id for d in recipient_view.deliveries] == ["amr-shanghai"]
    assert (await query_warnings(nc, requester="customs-guangdong")).warnings == []


async def test_an_expired_warning_is_delivered_to_nobody(warning_bus: Bus, nc: Client) -> None:
    warning_id = await _issue(warning_bus, expires_in=timedelta(seconds=-1))

    async def recorded() -> bool:
        reply = await query_warnings(nc, requester="coordinator", include_inactive=True)
        return any(w.warning_id == warning_id for w in reply.warnings)

    await wait_until(recorded, what="the coordinator to record the expired warning")
    reply = await query_warnings(nc, requester="coordinator", include_inactive=True)
    [view] = [w for w in reply.warnings if w.warning_id == warning_id]
    assert view.state == "expired"
    assert view.deliveries == []
    assert await _stream_deliveries(nc, warning_id, "warning.delivered") == []
    assert (await query_warnings(nc, requester="coordinator")).warnings == []


async def test_a_retraction_reaches_everyone_who_received_the_warning(
    warning_bus: Bus, nc: Client
) -> None:
    warning_id = await _issue(warning_bus)
    matched = {"customs-shanghai", "amr-shanghai"}
    await _deliveries_settled(warning_bus, warning_id, matched)
    centre = adapter(warning_bus, "overseas-center")
    async with centre.unit_of_work() as uow:
        await centre.retract_warning(uow, warning_id, reason="the route was a decoy")

    async def retracted_everywhere() -> bool:
        held = [await held_warning(warning_bus, a, warning_id) for a in matched]
        return all(h is not None and h.retracted_at is not None for h in held)

    await wait_until(retracted_everywhere, what="the retraction to reach every recipient")
    assert await _stream_deliveries(nc, warning_id, "warning.retracted") == sorted(
        [*matched, "coordinator"]
    )


async def test_a_silent_critical_warning_is_redelivered_then_escalated_once_across_a_restart(
    warning_bus: Bus, nc: Client, clock: FixedClock
) -> None:
    warning_id = await _issue(warning_bus, severity=Severity.CRITICAL)
    matched = {"customs-shanghai", "amr-shanghai"}
    await _deliveries_settled(warning_bus, warning_id, matched)
    amr = adapter(warning_bus, "amr-shanghai")
    async with amr.unit_of_work() as uow:
        await amr.acknowledge_warning(uow, warning_id)

    async def amr_acknowledged() -> bool:
        reply = await query_warnings(nc, requester="amr-shanghai")
        return reply.warnings[0].deliveries[0].acknowledged_at is not None

    await wait_until(amr_acknowledged, what="amr-shanghai's acknowledgement")

    clock.advance(timedelta(minutes=61))

    async def redelivered() -> bool:
        held = await held_warning(warning_bus, "customs-shanghai", warning_id)
        return held is not None and held.deliveries == 2

    await wait_until(redelivered, what="the re-delivery to customs-shanghai")

    await warning_bus.services["coordinator"].stop()  # a restart loses and repeats nothing
    del warning_bus.services["coordinator"]
    coordinator = await warning_bus.start_service("coordinator")
    assert isinstance(coordinator, CoordinatorService)
    clock.advance(timedelta(minutes=61))

    async def escalated() -> bool:
        return len(await _stream_deliveries(nc, warning_id, "warning.escalated")) == 2

    await wait_until(escalated, what="the escalation")
    assert await coordinator.warnings.chase() == 0
    clock.advance(timedelta(minutes=200))
    assert await coordinator.warnings.chase() == 0
    assert await _stream_deliveries(nc, warning_id, "warning.delivered") == [
        "amr-shanghai",
        "customs-shanghai",
        "customs-shanghai",
    ]
    assert await _stream_deliveries(nc, warning_id, "warning.escalated") == [
        "overseas-center",
        "procuratorate-shanghai",
    ]

    async def issuer_told() -> bool:
        held = await held_warning(warning_bus, "overseas-center", warning_id)
        return held is not None and held.escalations == 1

    await wait_until(issuer_told, what="the issuer to record the escalation")


async def test_ipbus_warnings_lists_delivery_and_acknowledgement_per_agency(
    warning_bus: Bus, nc: Client
) -> None:
    warning_id = await _issue(warning_bus)
    await _deliveries_settled(warning_bus, warning_id, {"customs-shanghai", "amr-shanghai"})
    customs = adapter(warning_bus, "customs-shanghai")
    async with customs.unit_of_work() as uow:
        await customs.acknowledge_warning(uow, warning_id)

    async def acknowledged() -> bool:
        views = (await query_warnings(nc, requester="coordinator")).warnings
        return any(d.acknowledged_at for d in views[0].deliveries)

    await wait_until(acknowledged, what="the acknowledgement")
    runner = CliRunner(env={"IPBUS_NATS_URL": warning_bus.nats_url, "COLUMNS": "250"})

    async def ipbus_warnings(*args: str) -> str:
        # In a thread: the command runs its own event loop, as it does from a shell.
        result = await asyncio.to_thread(runner.invoke, app, ["warnings", *args])
        assert result.exit_code == 0, result.output
        return result.output

    issuer = await ipbus_warnings("--as", "overseas-center")
    assert warning_id in issuer
    assert "amr-shanghai ×1: unacknowledged" in issuer
    assert "customs-shanghai ×1: acknowledged" in issuer
    recipient = await ipbus_warnings("--as", "amr-shanghai")
    assert "amr-shanghai ×1: unacknowledged" in recipient
    assert "customs-shanghai" not in recipient
    assert "no warnings" in await ipbus_warnings("--as", "customs-guangdong")
