"""Schema migrations: every service's tables change only through a reviewed Alembic revision.

One Alembic branch per kind of schema, all in one version table per service namespace
(a SQLite file, or a PostgreSQL schema):

* ``runtime`` — the tables every service has (inbox, outbox, referrals, ...), revisions in
  ``services/runtime/migrations/versions``;
* a service's own tables (``coordinator``, ``customs``) — revisions beside the service
  (``services/<service>/migrations``), declared on its ``MetaData`` with
  :func:`declare_history`, so the runtime never names a service.

A service's schema is the ``runtime`` branch plus the branches of its ``tables``. Each
branch starts with ``<label>_0001``, the baseline: the tables as the last release before
migrations (commit 1094b57) created them. A schema that release created has no version
table; :func:`upgrade` recognises it by its tables and stamps it at the baseline first
(see docs/operations.md, "Upgrading").

Development (``ipbus up``, the demo, tests) upgrades at start. Production creates the
tables of an empty namespace (a new deployment: nothing to migrate) and otherwise refuses
to start on a schema that is not at the code's revisions, naming ``ipbus db upgrade``.
"""

import importlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, create_engine, inspect
from sqlalchemy.exc import DBAPIError

from services.runtime.database import Database, RuntimeTable
from services.runtime.errors import ConfigurationError

__all__ = [
    "BASELINE",
    "History",
    "SchemaOutOfDate",
    "alembic_config",
    "check_schema",
    "current_revisions",
    "declare_history",
    "histories",
    "new_revision",
    "pending_changes",
    "require_schema",
    "schema_revisions",
    "upgrade_schema",
]

HERE = Path(__file__).parent
RUNTIME = "runtime"
BASELINE = "0001"
"""Every branch's first revision is ``<label>_0001``: the schema of the last release
without migrations."""

_HISTORY = "ipbus_history"
_RUNTIME_TABLE_MODULES = (
    "services.runtime.agency_adapter",
    "services.runtime.gateway_inbox",
    "services.runtime.inbox",
    "services.runtime.minimisation_log",
    "services.runtime.outbox",
    "services.runtime.referral_desk",
    "services.runtime.warning_desk",
)
"""Every module declaring a :class:`RuntimeTable`: a schema must not depend on which of
them a process happened to import (a table added in a new module belongs here)."""


@dataclass(frozen=True)
class History:
    """One Alembic branch: its label, its revisions' folder, the tables it migrates to."""

    label: str
    versions: Path
    metadata: MetaData

    @property
    def baseline(self) -> str:
        return f"{self.label}_{BASELINE}"


class SchemaOutOfDate(ConfigurationError):
    """The database's schema is not the one this code was written for."""


def declare_history(metadata: MetaData, label: str, versions: Path) -> None:
    """Say which branch (label, revisions folder) migrates the tables of ``metadata``."""
    metadata.info[_HISTORY] = (label, versions)


def runtime_history() -> History:
    for module in _RUNTIME_TABLE_MODULES:
        importlib.import_module(module)
    return History(RUNTIME, HERE / "versions", RuntimeTable.metadata)


def histories(metadatas: Iterable[MetaData]) -> list[History]:
    """The branches of a service whose own tables are ``metadatas`` (runtime first)."""
    found = [runtime_history()]
    for metadata in metadatas:
        declared = metadata.info.get(_HISTORY)
        if declared is None:
            raise ConfigurationError(
                f"tables {sorted(metadata.tables)} have no migration history: "
                "declare one with services.runtime.migrations.declare_history"
            )
        label, versions = declared
        found.append(History(label, versions, metadata))
    return found


def alembic_config(branches: Sequence[History]) -> Config:
    """Alembic's configuration for these branches only (others are invisible to it)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(b.versions) for b in branches))
    config.attributes["target_metadata"] = [b.metadata for b in branches]
    return config


def schema_revisions(metadatas: Iterable[MetaData]) -> set[str]:
    """The revisions the code expects: the head of each of its branches."""
    return set(ScriptDirectory.from_config(alembic_config(histories(metadatas))).get_heads())


async def upgrade_schema(
    database: Database, metadatas: Iterable[MetaData] = (), *, to: Sequence[str] = ("heads",)
) -> None:
    """Bring the namespace's schema to ``to`` (default: the code's), creating it if empty.

    One transaction (PostgreSQL: under the schema's advisory lock, so replicas starting
    together migrate once); on SQLite, a replica that loses the race sees "already exists"
    and tries again, then finds nothing to do.
    """
    branches = histories(metadatas)
    config = alembic_config(branches)
    if database.role is not None:
        await database.create_role()
    for attempt in range(5):
        try:
            async with database.engine.begin() as conn:
                await database.enter_schema(conn, create=True)
                await conn.run_sync(_upgrade, config, branches, list(to))
            return
        except DBAPIError as exc:
            if "already exists" not in str(exc.orig) or attempt == 4:
                raise


def _upgrade(conn: Connection, config: Config, branches: list[History], to: list[str]) -> None:
    config.attributes["connection"] = conn
    stamped = MigrationContext.configure(conn).get_current_heads()
    if not stamped:
        released = [b.baseline for b in branches if _holds_tables(conn, b)]
        if released:  # the previous release's create_all: its tables, no version table
            command.stamp(config, released)
    for target in to:
        command.upgrade(config, target)


def _holds_tables(conn: Connection, branch: History) -> bool:
    existing = set(inspect(conn).get_table_names())
    return bool(existing & set(branch.metadata.tables))


async def check_schema(
    database: Database, metadatas: Iterable[MetaData] = (), *, upgrade_command: str
) -> None:
    """Refuse a schema that is not at the code's revisions, naming ``upgrade_command``."""
    expected = schema_revisions(metadatas)
    async with database.engine.connect() as conn:
        await database.enter_schema(conn, create=False)
        found = set(
            await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
        )
    if found != expected:
        have = ", ".join(sorted(found)) or "no migrations applied"
        raise SchemaOutOfDate(
            f"database schema of {database.namespace!r} is at {have}; this code needs "
            f"{', '.join(sorted(expected))}: run `{upgrade_command}` first "
            "(docs/operations.md, Upgrading)"
        )


async def require_schema(
    database: Database, metadatas: Iterable[MetaData] = (), *, upgrade_command: str
) -> None:
    """Production's start: install into an empty namespace, else refuse an old schema.

    An empty namespace (a new deployment, a new agency) has nothing to lose: its tables
    are created by the migrations, as ``ipbus db upgrade`` would. A namespace holding
    anything must already be at the code's revisions (:func:`check_schema`).
    """
    if database.role is not None:
        await database.create_role()
    async with database.engine.connect() as conn:
        await database.enter_schema(conn, create=False)
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    if not tables:
        await upgrade_schema(database, metadatas)
        return
    await check_schema(database, metadatas, upgrade_command=upgrade_command)


async def pending_changes(database: Database, metadatas: Iterable[MetaData] = ()) -> list[Any]:
    """What autogenerate would put in a new revision: empty when the models are migrated."""
    branches = histories(metadatas)
    target = MetaData()
    for branch in branches:
        for table in branch.metadata.tables.values():
            table.to_metadata(target)
    async with database.engine.connect() as conn:
        await database.enter_schema(conn, create=False)

        def compare(c: Connection) -> list[Any]:
            context = MigrationContext.configure(c, opts={"compare_type": True})
            return [
                diff for diff in compare_metadata(context, target) if not _is_version_table(diff)
            ]

        return await conn.run_sync(compare)


def _is_version_table(diff: Any) -> bool:
    return (
        isinstance(diff, tuple)
        and diff[0] == "remove_table"
        and getattr(diff[1], "name", None) == "alembic_version"
    )


async def current_revisions(database: Database) -> set[str]:
    """The revisions the namespace's version table records (empty: none applied)."""
    async with database.engine.connect() as conn:
        await database.enter_schema(conn, create=False)
        return set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))


def new_revision(metadatas: Iterable[MetaData], label: str, message: str) -> Path:
    """Autogenerate the next revision of branch ``label``: today's models minus its head.

    Against a scratch SQLite database migrated to every head; the script it writes must be
    reviewed (defaults for NOT NULL columns on filled tables, data to carry over) before
    it is committed.
    """
    branches = histories(metadatas)
    branch = next((b for b in branches if b.label == label), None)
    if branch is None:
        raise ConfigurationError(
            f"no branch {label!r} here: one of {', '.join(b.label for b in branches)}"
        )
    config = alembic_config(branches)
    script = ScriptDirectory.from_config(config)
    head = script.get_revision(f"{label}@head")
    number = int(head.revision.rsplit("_", 1)[1]) + 1 if head is not None else 1
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
        written = command.revision(
            config,
            message=message,
            autogenerate=True,
            head=f"{label}@head",
            rev_id=f"{label}_{number:04d}",
            version_path=str(branch.versions),
        )
    engine.dispose()
    scripts = written if isinstance(written, list) else [written]
    return Path(scripts[0].path) if scripts and scripts[0] is not None else branch.versions
