"""Upgrading a deployment: schemas as the previous release left them, data in, migrated, run.

The previous release's schemas come from the baseline revisions (``<branch>_0001``), not
from today's models; a release before migrations created them without a version table,
which is what most of them get here. Both databases (SQLite, PostgreSQL).
"""

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Column, MetaData, String

from contracts.cases import CaseStatus
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralKind, ReferralState
from services.cli.demo import _detention
from services.coordinator.app import CoordinatorService
from services.coordinator.store import CoordinatorTable
from services.customs.app import CustomsService
from services.runtime.identity import Settings, prepare_registry
from services.runtime.storage import (
    Database,
    SchemaOutOfDate,
    alembic_config,
    current_revisions,
    histories,
    pending_changes,
    schema_revisions,
    upgrade_schema,
)
from services.sdk import agency_database, bootstrap, query_case
from tests.conftest import REGISTRY
from tests.integration.conftest import AGENCIES, StartBus
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
LATER = NOW + timedelta(days=200)
"""Far enough that no watcher acts on the old rows while the test runs."""

OLD_CASE = new_ulid()
OLD_DETENTION = new_ulid()
OLD_REFERRAL = new_ulid()


def _tables(agency_id: str) -> tuple[MetaData, ...]:
    return {"coordinator": (CoordinatorTable.metadata,)}.get(
        agency_id, CustomsService.tables if agency_id.startswith("customs") else ()
    )


async def _insert(db: Database, table: str, **values: Any) -> None:
    """A row as the previous release wrote it (Core, so the schema translation applies)."""
    async with db.engine.begin() as conn:
        await conn.execute(_table(table, *values).insert().values(**values))


async def _rows(db: Database, table: str, *columns: str) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(_table(table, *columns)))
        return [tuple(row) for row in rows.all()]


def _table(name: str, *columns: str) -> sa.Table:
    """Just the named columns of a table (a ``Table``: the schema translation applies)."""
    return sa.Table(name, MetaData(), *(Column(column) for column in columns))


async def _previous_release(db: Database, agency_id: str, *, version_table: bool) -> None:
    """The schema at the baseline revisions, some of the release's data in it."""
    tables = _tables(agency_id)
    await upgrade_schema(db, tables, to=[h.baseline for h in histories(tables)])
    await _insert(
        db,
        "ipbus_inbox",
        consumer=f"agency-{agency_id}",
        event_id=new_ulid(),
        digest="0" * 64,
        processed_at=NOW,
    )
    if agency_id == "coordinator":
        await _insert(
            db,
            "coordinator_case",
            case_id=OLD_CASE,
            title="counterfeit handbags, Yangshan port",
            status=CaseStatus.REFERRED.value,
            updated_at=NOW,
        )
        for party in ("customs-shanghai", "amr-shanghai"):
            await _insert(
                db,
                "coordinator_case_party",
                case_id=OLD_CASE,
                agency_id=party,
                local_ref=None,
                opened=True,
                closed=False,
            )
        await _insert(
            db,
            "coordinator_deadline",
            referral_id=OLD_REFERRAL,
            stage="decide",
            case_id=OLD_CASE,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT.value,
            sender="customs-shanghai",
            recipient="amr-shanghai",
            supervisor=None,
            started_at=NOW.replace(tzinfo=None),
            due_at=LATER.replace(tzinfo=None),
            period="30 calendar days",
            status="pending",
        )
    if agency_id == "customs-shanghai":
        await _insert(
            db,
            "customs_detention",
            detention_id=OLD_DETENTION,
            case_id=OLD_CASE,
            port="Yangshan",
            hs_code="420221",
            quantity=300,
            status="detained",
            detained_at=NOW,
        )
        await _insert(
            db,
            "customs_confirmation_window",
            detention_id=OLD_DETENTION,
            case_id=OLD_CASE,
            perishable=False,
            due_at=LATER.replace(tzinfo=None),
            confirmed_at=None,
            lapsed_at=None,
        )
    if not version_table:  # created by the release's create_all: no Alembic at all
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"DROP TABLE {_qualified(db, 'alembic_version')}"))


def _qualified(db: Database, table: str) -> str:
    return f'"{db.schema}"."{table}"' if db.schema else f'"{table}"'


@pytest.mark.timeout(180)
async def test_a_deployment_of_the_previous_release_upgrades_and_runs(
    settings: Settings, start_bus: StartBus
) -> None:
    databases = {agency_id: agency_database(settings, agency_id) for agency_id in AGENCIES}
    try:
        for agency_id, db in databases.items():
            await _previous_release(db, agency_id, version_table=agency_id == "amr-shanghai")

        # production: the service refuses the old schema and names the command
        registry = prepare_registry(
            settings.registry_path, settings.keys_dir, settings.effective_registry_path
        )
        coordinator = bootstrap(
            CoordinatorService,
            settings=settings,
            registry=registry,
            agency_id="coordinator",
            nats_url=settings.nats_url or "",
        )
        coordinator.context = replace(coordinator.context, upgrade_schema=False)
        with pytest.raises(SchemaOutOfDate, match="ipbus db upgrade coordinator"):
            await coordinator.prepare_schema()
        await coordinator.database.close()

        # what `ipbus db upgrade --all` does
        for agency_id, db in databases.items():
            await upgrade_schema(db, _tables(agency_id))
            assert await pending_changes(db, _tables(agency_id)) == []

        coordinator_db, customs_db = databases["coordinator"], databases["customs-shanghai"]
        assert await current_revisions(coordinator_db) == {"runtime_0002", "coordinator_0006"}
        assert await _rows(
            coordinator_db, "coordinator_deadline", "referral_id", "amount", "unit", "rule_version"
        ) == [(OLD_REFERRAL, 30.0, "calendar_days", "")]
        assert await _rows(
            customs_db, "customs_clock", "detention_id", "clock", "status", "period"
        ) == [(OLD_DETENTION, "customs.application_and_bond", "running", "10 working days")]
        assert await _rows(customs_db, "customs_detention", "detention_id", "goods_event") == [
            (OLD_DETENTION, "")
        ]
        for agency_id, db in databases.items():
            assert len(await _rows(db, "ipbus_inbox", "event_id")) == 1, agency_id
    finally:
        for db in databases.values():
            await db.close()

    # the real bus on the migrated schemas: new events applied, old and new cases queried
    bus = await start_bus(settings, AGENCIES)
    customs = bus.services["customs-shanghai"]
    assert isinstance(customs, CustomsService)
    async with customs.unit_of_work() as uow:
        detention = await customs.detain_goods(uow, _detention())
        await customs.issue_referral(
            uow,
            case_id=detention.case_id,
            to="amr-shanghai",
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="trademark infringement",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="1,200 pairs of shoes",
        )
    nc = await nats.connect(bus.nats_url)
    try:

        async def acknowledged() -> bool:
            reply = await query_case(nc, requester="amr-shanghai", case_id=detention.case_id)
            return (
                reply.case is not None
                and len(reply.case.referrals) == 1
                and reply.case.referrals[0].state is ReferralState.ACKNOWLEDGED
            )

        await wait_until(acknowledged, timeout_s=30, what="the referral, acknowledged")
        old = await query_case(nc, requester="amr-shanghai", case_id=OLD_CASE)
        assert old.case is not None
        assert old.case.title == "counterfeit handbags, Yangshan port"
        assert old.case.status is CaseStatus.REFERRED
    finally:
        await nc.close()


@pytest.mark.parametrize("agency_id", ["coordinator", "customs-shanghai", "amr-shanghai"])
async def test_the_migrations_build_exactly_todays_models(
    settings: Settings, agency_id: str
) -> None:
    """Autogenerate finds nothing: no model change ships without its revision."""
    db = agency_database(settings, agency_id)
    try:
        await upgrade_schema(db, _tables(agency_id))
        assert await pending_changes(db, _tables(agency_id)) == []
    finally:
        await db.close()


async def test_a_column_without_a_revision_is_found(settings: Settings) -> None:
    db = agency_database(settings, "coordinator")
    changed = MetaData(info=dict(CoordinatorTable.metadata.info))
    for table in CoordinatorTable.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["coordinator_case"].append_column(Column("court", String(63)))
    try:
        await upgrade_schema(db, [CoordinatorTable.metadata])

        diffs = await pending_changes(db, [changed])
    finally:
        await db.close()

    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "coordinator_case", "court")]


async def test_production_installs_into_an_empty_namespace(settings: Settings) -> None:
    """A new deployment has nothing to migrate: ``ipbus run`` creates its tables."""
    registry = prepare_registry(
        settings.registry_path, settings.keys_dir, settings.effective_registry_path
    )
    customs = bootstrap(
        CustomsService,
        settings=settings,
        registry=registry,
        agency_id="customs-shanghai",
        nats_url=settings.nats_url or "",
    )
    customs.context = replace(customs.context, upgrade_schema=False)
    try:
        await customs.prepare_schema()
        await customs.prepare_schema()  # and then finds it current

        assert await current_revisions(customs.database) == {"runtime_0002", "customs_0002"}
    finally:
        await customs.database.close()


@pytest.mark.parametrize("agency_id", ["coordinator", "customs-shanghai"])
async def test_release_2_goes_back_to_the_baseline_and_forward_again(
    settings: Settings, agency_id: str
) -> None:
    """Each revision's ``downgrade()`` runs (schema only) on both databases."""
    db = agency_database(settings, agency_id)
    tables = _tables(agency_id)
    branches = histories(tables)
    config = alembic_config(branches)
    try:
        await upgrade_schema(db, tables)
        async with db.engine.begin() as conn:
            await db.enter_schema(conn, create=True)

            def downgrade(c: sa.Connection) -> None:
                config.attributes["connection"] = c
                for branch in branches:
                    command.downgrade(config, f"{branch.label}@{branch.baseline}")

            await conn.run_sync(downgrade)
        assert await current_revisions(db) == {b.baseline for b in branches}

        await upgrade_schema(db, tables)

        assert await pending_changes(db, tables) == []
    finally:
        await db.close()


def _ipbus_db(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("IPBUS_") and not key.startswith("OTEL_")
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("ipbus")), "db", *args],
        env={**env, "IPBUS_DATA_DIR": str(data_dir), "IPBUS_REGISTRY_PATH": str(REGISTRY)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(300)
def test_the_db_commands_say_what_is_behind_and_upgrade_it(tmp_path: Path) -> None:
    behind = _ipbus_db(tmp_path, "current", "--all")
    assert behind.returncode == 1, behind.stderr
    assert "coordinator: empty (code: coordinator_0006, runtime_0002)" in behind.stdout

    one = _ipbus_db(tmp_path, "upgrade", "coordinator")
    assert one.returncode == 0, one.stderr
    assert "coordinator: empty → coordinator_0006, runtime_0002" in one.stdout

    every = _ipbus_db(tmp_path, "upgrade", "--all")
    assert every.returncode == 0, every.stderr
    assert "coordinator: already at coordinator_0006, runtime_0002" in every.stdout
    assert "customs-shanghai: empty → customs_0002, runtime_0002" in every.stdout
    assert _ipbus_db(tmp_path, "current", "--all").returncode == 0
    assert _ipbus_db(tmp_path, "upgrade").returncode == 2  # neither an agency nor --all


_MIGRATE_ONE_FILE = """
import asyncio, sys
from services.coordinator.store import CoordinatorTable
from services.runtime.storage import Database, upgrade_schema

async def main() -> None:
    database = Database(sys.argv[1], namespace="coordinator")
    try:
        await upgrade_schema(database, (CoordinatorTable.metadata,))
    finally:
        await database.close()

asyncio.run(main())
"""


@pytest.mark.timeout(120)
def test_replicas_starting_together_on_one_sqlite_file_migrate_it_once(tmp_path: Path) -> None:
    """Two coordinator replicas on one SQLite file, as the reliability suite runs them: each
    migrates at start; neither may see the other's half-written version table (an Alembic
    "overlapping revisions" error killed a replica before the file lock)."""
    for round_ in range(2):
        url = f"sqlite+aiosqlite:///{tmp_path / f'coordinator-{round_}.db'}"
        replicas = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE_ONE_FILE, url],
                cwd=Path(__file__).parents[2],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(3)
        ]
        outputs = [replica.communicate(timeout=90)[0].decode() for replica in replicas]
        assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
        engine = sa.create_engine(url.replace("+aiosqlite", ""))
        with engine.connect() as conn:
            heads = {
                row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            }
        engine.dispose()
        assert heads == schema_revisions([CoordinatorTable.metadata])
