"""Operators' view of a real bus: health endpoints, then a real Prometheus scraping it.

The bus (real nats-server, four services, SQLite) plays the demo scenario plus an overdue
referral and warnings; Prometheus scrapes ``/metrics`` every second and evaluates the
alert rules. Every dashboard panel query and alert expression must parse, and every
panel except the few named below must return data.
"""

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import nats
import pytest
from fastapi import APIRouter

from contracts.agencies import AgencyKind, WarningCategory
from contracts.envelope import publish_subject
from contracts.identifiers import Money, new_ulid
from contracts.referrals import ReferralKind, ReferralOverdue, ReferralStage
from contracts.subjects import COORDINATOR, EVENT_STREAM
from contracts.warnings import (
    Severity,
    WarningTargets,
)
from services.cli.bus import BusFailure
from services.cli.demo import CUSTOMS, STRANGER, run_demo
from services.cli.demo_chain import REGULATOR
from services.cli.status import gather_status
from services.customs.app import CustomsService
from services.runtime.identity import Settings
from services.runtime.server import free_port
from services.sdk import AgencyAdapter, Bus, HttpServer, WarningRecord, build_http_app
from tests.deploy.dashboards import RULES, alert_rules, dashboard_panels
from tests.deploy.prometheus_server import query, running_prometheus
from tests.integration.wire import publish, signed, wait_until

pytestmark = pytest.mark.integration
sqlite_only = pytest.mark.parametrize("database_url", [None])
"""These tests are about the operator's view, not storage: SQLite is enough."""

MAY_BE_EMPTY = {
    # A healthy scenario raises no handler exceptions.
    "Handler failures (redelivered)",
    # The NATS server's own metrics come from prometheus-nats-exporter, not run here.
    "NATS client connections",
    "NATS messages per second",
    "NATS slow consumers and routes",
    "JetStream storage used",
    "JetStream messages by stream",
    "NATS node memory",
}
RATE_INTERVAL = "15s"
GUANGDONG_REGULATOR = "amr-guangdong"
AGENCY_CHOICES = (CUSTOMS, COORDINATOR)
"""The agency view is evaluated for each; every panel must show data for one of them."""


@sqlite_only
async def test_health_endpoints_report_every_service(bus: Bus) -> None:
    gateway = APIRouter(prefix="/gateway")

    @gateway.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    server = HttpServer(
        build_http_app(bus.services, bus.metrics.registry, extra_routers=[gateway]),
        host="127.0.0.1",
        port=free_port(),
    )
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/gateway/ping")).json() == {"pong": "yes"}
            alive = await client.get("/healthz")
            assert alive.status_code == 200
            assert alive.json()["services"] == sorted(bus.services)
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert {s["agency"] for s in ready.json()["services"]} == set(bus.services)
            metrics = (await client.get("/metrics")).text
            assert 'ipbus_service_ready{agency="coordinator",service="coordinator"} 1.0' in metrics
            assert 'ipbus_consumer_pending_messages{agency="coordinator"' in metrics

            status = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("ipbus")),
                "status",
                "--http-url",
                server.url,
                env={**os.environ, "IPBUS_NATS_URL": bus.nats_url},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out = (await asyncio.wait_for(status.communicate(), 60))[0].decode()
            assert status.returncode == 0, out
            assert "agency-customs-shanghai" in out
            assert "overdue referrals: none" in out
            assert "unacknowledged warnings: none" in out

            stranger = bus.services[STRANGER]
            await stranger.js.delete_consumer(EVENT_STREAM, stranger.consumer.durable)
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            verdicts = {s["agency"]: s for s in not_ready.json()["services"]}
            assert verdicts[STRANGER]["ready"] is False
            assert "not found" in verdicts[STRANGER]["consumer"].lower()
            assert verdicts[STRANGER]["nats"] == verdicts[STRANGER]["database"] == "ok"
            assert verdicts[CUSTOMS]["ready"] is True
    finally:
        await server.stop()


async def _overdue_referral_and_warnings(bus: Bus, settings: Settings) -> None:
    """A referral nobody decides (declared overdue) and a critical warning left unread."""
    customs = bus.services[CUSTOMS]
    assert isinstance(customs, CustomsService)
    nc = await nats.connect(bus.nats_url)
    try:
        case_id = new_ulid()
        async with customs.unit_of_work() as uow:
            await customs.open_case(
                uow, case_id=case_id, local_ref="SH-CUS-OBS", title="400 handbags"
            )
            referral = await customs.issue_referral(
                uow,
                case_id=case_id,
                to=REGULATOR,
                kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
                reason="a second consignment",
                legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
                summary="400 handbags",
                amount=Money(value=Decimal("80000"), currency="CNY"),
            )
        overdue = ReferralOverdue(
            referral_id=referral.referral_id,
            case_id=case_id,
            stage=ReferralStage.DECIDE,
            due_at=datetime.now(UTC) - timedelta(hours=1),
        )
        await asyncio.sleep(1.0)  # let the issue reach the coordinator first
        notice = signed(settings, COORDINATOR, overdue, case_id=case_id)
        await publish(nc, publish_subject(notice, CUSTOMS), notice)
        # A critical warning routed by the coordinator to the Guangdong port and regulator;
        # only the regulator reads it, so one delivery stays unacknowledged.
        async with customs.unit_of_work() as uow:
            record = await customs.issue_warning(
                uow,
                category=WarningCategory.COUNTERFEIT_ROUTE,
                severity=Severity.CRITICAL,
                title="counterfeit STRIDE shoes via Nansha",
                body="watch for consignments of HS 6404 declared by Haixin Trading",
                targets=WarningTargets(
                    kinds=[AgencyKind.CUSTOMS, AgencyKind.ENFORCEMENT], regions=["440000"]
                ),
                expires_at=datetime.now(UTC) + timedelta(days=30),
            )
        reader = bus.services[GUANGDONG_REGULATOR]
        assert isinstance(reader, AgencyAdapter)

        async def delivered() -> bool:
            async with reader.database.transaction() as session:
                return await session.get(WarningRecord, record.warning_id) is not None

        await wait_until(delivered, what="the critical warning to reach the regulator")
        async with reader.unit_of_work() as uow:
            await reader.acknowledge_warning(uow, record.warning_id, note="seen")
    finally:
        await nc.close()


@sqlite_only
@pytest.mark.timeout(120)
async def test_prometheus_scrapes_the_bus_and_every_query_works(
    demo_bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    bus = demo_bus
    server = HttpServer(
        build_http_app(bus.services, bus.metrics.registry), host="127.0.0.1", port=free_port()
    )
    try:
        await server.start()
        async with running_prometheus(
            tmp_path / "prometheus",
            [f"127.0.0.1:{server.port}"],
            sorted(RULES.glob("*.yml")),
        ) as api:

            async def scraped(expr: str) -> bool:
                return bool((await query(api, expr))["data"]["result"])

            # Prometheus applies new targets after ~5 s; traffic starts once it watches.
            await wait_until(
                lambda: scraped('count_over_time(up{job="ipbus"}[1m]) >= 2'),
                timeout_s=20,
                what="Prometheus scraping the bus",
            )
            await run_demo(bus, lambda line: None)
            await _overdue_referral_and_warnings(bus, settings)

            for expr in (
                "ipbus_referrals_overdue > 0",
                'ipbus_warnings_unacknowledged{severity="critical"} >= 1',
                "ipbus_warnings_acknowledged_total > 0",
                "ipbus_dead_letters_total > 0",
                'ipbus_referrals{state="concluded"} > 0',
            ):
                await wait_until(lambda e=expr: scraped(e), timeout_s=20, what=expr)  # type: ignore[misc]
            await asyncio.sleep(2.5)  # a few more scrapes, so rates have two samples

            empty, broken = [], []
            for panel in dashboard_panels():
                expr = panel.expr.replace("$__rate_interval", RATE_INTERVAL)
                has_data = False
                for agency in AGENCY_CHOICES if "$agency" in expr else ("",):
                    answer = await query(api, expr.replace("$agency", agency))
                    if answer["status"] != "success":
                        broken.append(f"{panel.dashboard}/{panel.title}: {answer.get('error')}")
                    has_data = has_data or bool(answer["data"]["result"])
                if not has_data and panel.title not in MAY_BE_EMPTY:
                    empty.append(f"{panel.dashboard}/{panel.title}: {expr}")
            assert not broken, broken
            assert not empty, f"panels without data: {empty}"

            for rule in alert_rules():
                answer = await query(api, rule.expr)
                assert answer["status"] == "success", (rule.name, answer)

            groups = (await api.get("/api/v1/rules")).json()["data"]["groups"]
            loaded = {r["name"]: r for g in groups for r in g["rules"]}
            assert set(loaded) == {r.name for r in alert_rules()}
            await wait_until(lambda: _all_evaluated(api), timeout_s=10, what="every rule evaluated")
            await wait_until(
                lambda: scraped('ALERTS{alertname="IpbusDeadLettersGrowing",reason="not_json"}'),
                timeout_s=10,
                what="the demo's dead letter to raise IpbusDeadLettersGrowing",
            )
    finally:
        await server.stop()


async def _all_evaluated(api: httpx.AsyncClient) -> bool:
    groups = (await api.get("/api/v1/rules")).json()["data"]["groups"]
    return all(r["health"] == "ok" for g in groups for r in g["rules"])


@pytest.mark.timeout(30)
async def test_status_against_a_bus_that_is_down_says_so_in_one_line(tmp_path: Path) -> None:
    settings = Settings(nats_url=f"nats://127.0.0.1:{free_port()}", data_dir=tmp_path)
    with pytest.raises(BusFailure, match="cannot reach the bus at"):
        await gather_status(settings, f"http://127.0.0.1:{free_port()}")
