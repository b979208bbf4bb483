"""A leaf-node site (DESIGN §7) on two real nats-servers: the hub runs the coordinator, the
customs office runs on its own leaf node, everything authenticated with the generated
configuration. The link is cut during traffic: customs keeps accepting commands, and when
the link returns every event reaches the coordinator in order, once, nothing lost."""

import asyncio
import os
import shutil
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import col, select

from contracts.agencies import Registry
from contracts.cases import CaseStatus, CaseStatusChanged, IpRight
from contracts.envelope import publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import (
    COORDINATOR,
    DLQ_STREAM,
    EVENT_STREAM,
    agency_consumer,
    event_subject,
    stored_filter,
)
from services.cli.security import write_nats_config
from services.coordinator.cases.store import TimelineRecord
from services.customs.app import CustomsService
from services.runtime.bus import InboxRecord, OutboxRecord
from services.runtime.identity import Settings, key_path, load_registry
from services.runtime.server import (
    SEED_VARIABLE,
    EmbeddedNatsServer,
    free_port,
    hub_config,
    site_config,
)
from services.sdk import Bus, query_case
from tests.conftest import REGISTRY, on_postgresql
from tests.integration.conftest import StartBus
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
CASES_BEFORE, CASES_DURING, CASES_AFTER = 4, 8, 4
EVENTS_PER_CASE = 3  # opened, status changed, closed: the coordinator refuses them out of order
ORDER = ["case.opened", "case.status_changed", "case.closed"]
OUTAGE_S = 8.0


@dataclass
class Site:
    """The hub, the customs site's leaf node, and the two halves of the bus."""

    hub: EmbeddedNatsServer
    leaf: EmbeddedNatsServer
    leaf_config: Path
    hub_bus: Bus
    site_bus: Bus
    hub_settings: Settings
    backend: str

    @property
    def customs(self) -> CustomsService:
        service = self.site_bus.services[CUSTOMS]
        assert isinstance(service, CustomsService)
        return service

    async def cut(self, how: str) -> None:
        """Cut the link: disable the leaf's remote, or kill the hub outright."""
        if how == "hub_killed":
            await self.hub.stop(kill=True)
        else:
            self.link(up=False)

    async def restore(self, how: str) -> None:
        if how == "hub_killed":
            await self.hub.start()  # same port, same store
        else:
            self.link(up=True)

    def link(self, *, up: bool) -> None:
        """Disable or re-enable the leaf's remote, by reloading its configuration."""
        text = self.leaf_config.read_text()
        marker = "    deny_exports"
        text = text.replace("    disabled: true\n", "")
        if not up:
            text = text.replace(marker, "    disabled: true\n" + marker, 1)
        self.leaf_config.write_text(text)
        os.kill(self.leaf.pid, signal.SIGHUP)


def _settings(base: Path, registry: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": base / "var",
        "registry_path": registry,
        "outbox_poll_seconds": 0.2,
        "nats_auth": "nkey",
    }
    return Settings.model_validate(values | changes)


@pytest.fixture
async def site(
    tmp_path: Path, database_url: str | None, schema_prefix: str, start_bus: StartBus
) -> AsyncIterator[Site]:
    creds = tmp_path / "creds"
    write_nats_config(REGISTRY, creds)
    registry: Registry = load_registry(creds / "agencies.toml")
    keys = tmp_path / "var" / "keys"
    keys.mkdir(parents=True)
    for agency in registry.agencies:
        shutil.copy(creds / "sites" / agency.id / f"{agency.id}.nk", key_path(keys, agency.id))

    leaf_port = free_port()
    hub_file = tmp_path / "hub.conf"
    hub_file.write_text(hub_config(registry, [CUSTOMS], leaf_port=leaf_port))
    hub = EmbeddedNatsServer(tmp_path / "hub", port=free_port(), config_file=hub_file)
    leaf_file = tmp_path / "site.conf"
    leaf_file.write_text(
        site_config(registry, CUSTOMS, hub_urls=[f"nats-leaf://127.0.0.1:{leaf_port}"])
    )
    seed = (creds / "sites" / CUSTOMS / f"{CUSTOMS}.nk").read_text().strip()
    leaf = EmbeddedNatsServer(
        tmp_path / "site",
        port=free_port(),
        config_file=leaf_file,
        env={**os.environ, SEED_VARIABLE: seed},
    )
    if database_url is not None:
        on_postgresql(schema_prefix)
    common = {"database_url": database_url, "database_schema_prefix": schema_prefix}
    hub_settings = _settings(
        tmp_path, creds / "agencies.toml", nats_url=hub.url, sites=CUSTOMS, **common
    )
    site_settings = _settings(
        tmp_path, creds / "agencies.toml", nats_url=leaf.url, hub_domain="hub", **common
    )
    buses: list[Bus] = []
    try:
        await hub.start()
        await leaf.start()
        hub_bus = await start_bus(hub_settings, [COORDINATOR])
        buses.append(hub_bus)
        site_bus = await start_bus(site_settings, [CUSTOMS])
        buses.append(site_bus)
        backend = "postgresql" if database_url else "sqlite"
        yield Site(hub, leaf, leaf_file, hub_bus, site_bus, hub_settings, backend)
    finally:
        for running in reversed(buses):  # before their servers; start_bus fails a stuck one
            await running.stop()
        await leaf.stop()
        await hub.stop()


async def _work_cases(customs: CustomsService, count: int) -> list[str]:
    """``count`` cases, each opened, moved and closed: three commands, three events."""
    ip = IpRight(type="trademark", registration_no="G1", holder="Maison A")
    case_ids = []
    for n in range(count):
        case_id = new_ulid()
        async with customs.unit_of_work() as uow:
            await customs.open_case(
                uow, case_id=case_id, local_ref=f"SITE-{n}", title="Handbags", ip_rights=[ip]
            )
        async with customs.unit_of_work() as uow:
            await customs.change_case_status(uow, case_id, CaseStatus.INVESTIGATING)
        async with customs.unit_of_work() as uow:
            await customs.close_case(uow, case_id, outcome="released")
        case_ids.append(case_id)
    return case_ids


async def _timeline(site: Site) -> list[TimelineRecord]:
    coordinator = site.hub_bus.services[COORDINATOR]
    async with coordinator.database.transaction() as session:
        rows = await session.exec(
            select(TimelineRecord)
            .where(col(TimelineRecord.sender) == CUSTOMS)
            .order_by(col(TimelineRecord.seq))
        )
        return list(rows)


async def _unsent(customs: CustomsService) -> int:
    async with customs.database.transaction() as session:
        rows = await session.exec(select(OutboxRecord).where(col(OutboxRecord.sent_at).is_(None)))
        return len(rows.all())


async def _sent(customs: CustomsService) -> int:
    async with customs.database.transaction() as session:
        rows = await session.exec(
            select(OutboxRecord).where(col(OutboxRecord.stream_seq).is_not(None))
        )
        return len(rows.all())


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cut", ["remote_disabled", "hub_killed"])
async def test_a_site_keeps_working_through_an_outage_and_loses_nothing(
    site: Site, cut: str
) -> None:
    customs = site.customs
    cases = await _work_cases(customs, CASES_BEFORE)
    before = CASES_BEFORE * EVENTS_PER_CASE

    async def arrived(n: int) -> bool:
        return len(await _timeline(site)) >= n

    await site.cut(cut)  # at once: some of the first events are still on their way
    cut_at = time.monotonic()
    await asyncio.sleep(1.0)  # let the reload close the link
    during_cases = await _work_cases(customs, CASES_DURING)  # commands still accepted
    cases += during_cases
    during = CASES_DURING * EVENTS_PER_CASE

    async def all_stored_locally() -> bool:
        return await _unsent(customs) == 0

    # the outbox drains into the site's own stream: every publish acknowledged locally
    await wait_until(all_stored_locally, timeout_s=60, what="outbox drained into the site")
    assert await _sent(customs) == before + during
    await asyncio.sleep(OUTAGE_S)  # the link stays down a while longer
    reached_during_outage = await _timeline(site)
    assert not {row.case_id for row in reached_during_outage} & set(during_cases)
    await site.restore(cut)
    outage_s = time.monotonic() - cut_at

    cases += await _work_cases(customs, CASES_AFTER)
    total = (CASES_BEFORE + CASES_DURING + CASES_AFTER) * EVENTS_PER_CASE
    await wait_until(lambda: arrived(total), timeout_s=120, what="every event at the hub")
    await asyncio.sleep(1.0)  # a duplicate, were there one, would land now

    timeline = await _timeline(site)
    event_ids = [row.event_id for row in timeline]
    per_case: dict[str, list[str]] = defaultdict(list)
    for row in timeline:
        per_case[row.case_id].append(row.event_type)
    duplicates = len(event_ids) - len(set(event_ids))
    lost = total - len(set(event_ids))
    nc = await site.hub_bus.connect(COORDINATOR, name="test-count")
    try:
        info = await nc.jetstream().stream_info(
            EVENT_STREAM, subjects_filter=stored_filter(sender=CUSTOMS)
        )
        on_hub = sum((info.state.subjects or {}).values())
        dead = (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages
    finally:
        await nc.close()
    print(
        f"site outage ({cut}, {site.backend}): events={total} outage_s={outage_s:.1f} "
        f"at_hub_during_outage={len(reached_during_outage)} on_hub_stream={on_hub} "
        f"timeline={len(timeline)} duplicates={duplicates} lost={lost} dead_letters={dead}"
    )
    assert (duplicates, lost, dead) == (0, 0, 0)
    assert on_hub == total  # the hub's stream holds each event once: no second path
    assert set(per_case) == set(cases)
    assert all(types == ORDER for types in per_case.values())

    # customs, on its leaf, asks the coordinator on the hub about a case it worked offline
    leaf_nc = await site.site_bus.connect(CUSTOMS, name="test-site-query")
    try:
        reply = await query_case(leaf_nc, requester=CUSTOMS, case_id=cases[CASES_BEFORE])
    finally:
        await leaf_nc.close()
    assert reply.case is not None
    assert [line.event_type for line in reply.case.timeline] == ORDER


async def _applied_at_customs(customs: CustomsService, event_id: str) -> bool:
    async with customs.database.transaction() as session:
        found = await session.exec(select(InboxRecord).where(col(InboxRecord.event_id) == event_id))
        return found.first() is not None


@pytest.mark.timeout(120)
async def test_hub_events_for_the_agency_reach_its_site_after_an_outage(site: Site) -> None:
    """Deliveries back: the site's stream sources the hub's events addressed to customs, and
    customs' durable consumer reads them on its own leaf, including those sent while cut."""
    site.link(up=False)
    await asyncio.sleep(1.0)
    envelope = signed(
        site.hub_settings,
        REGULATOR,
        CaseStatusChanged(local_ref="AMR-1", status=CaseStatus.INVESTIGATING, note="to customs"),
        case_id=new_ulid(),
    )
    nc = await site.hub_bus.connect(REGULATOR, name="test-regulator")
    try:
        await publish(nc, publish_subject(envelope, CUSTOMS), envelope)
        garbage = event_subject(REGULATOR, CUSTOMS, new_ulid(), "case.opened")
        await publish(nc, garbage, b"not an event", msg_id=new_ulid())
    finally:
        await nc.close()
    await asyncio.sleep(2.0)
    assert not await _applied_at_customs(site.customs, envelope.id)  # the link is down
    site.link(up=True)

    async def delivered() -> bool:
        return await _applied_at_customs(site.customs, envelope.id)

    await wait_until(delivered, timeout_s=60, what="the hub's event applied at the site")
    leaf_nc = await site.site_bus.connect(CUSTOMS, name="test-site-consumer")
    try:
        consumer = await leaf_nc.jetstream().consumer_info(EVENT_STREAM, agency_consumer(CUSTOMS))
    finally:
        await leaf_nc.close()
    assert consumer.config.filter_subject == f"ipbus.v1.*.{CUSTOMS}.>"
    assert (consumer.num_pending, consumer.num_ack_pending) == (0, 0)

    # what customs refused at its site reaches the hub's dead-letter queue (sourced too)
    hub_nc = await site.hub_bus.connect(COORDINATOR, name="test-hub-dlq")
    try:

        async def refused_by_customs() -> bool:
            letters = await dead_letters(hub_nc, at_least=1)
            return any(
                (m.headers or {}).get("Ipbus-Dlq-Consumer") == agency_consumer(CUSTOMS)
                for m in letters
            )

        await wait_until(refused_by_customs, timeout_s=60, what="customs' dead letter at the hub")
    finally:
        await hub_nc.close()
