"""Core SQL on a session's connection, for the paths every event takes.

The ORM's unit of work costs about a millisecond a statement; the hot path (inbox, case
file, timeline, audit) writes with Core statements on the transaction's connection and
keeps the ORM for the rest. Statements are built once per table and dialect.
"""

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, ScalarSelect, Table, func, insert, literal_column, text
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.expression import Executable
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.storage.timestamps import as_utc

__all__ = [
    "PendingWrites",
    "execute",
    "flush_pending_writes",
    "insert_ignoring_duplicates",
    "json_array",
    "json_rows",
    "pending_writes",
    "table_of",
    "take_turns",
    "upsert",
]


def json_array(
    dialect: str, columns: Sequence[ColumnElement[Any]], *where: ColumnElement[bool]
) -> ScalarSelect[Any]:
    """A correlated subquery: the matching rows as a JSON array of objects keyed by column
    name (NULL or ``[]`` when none match), so one statement reads a row with its children
    (``json_agg`` on PostgreSQL, ``json_group_array`` on SQLite; read with :func:`json_rows`)."""
    pairs: list[ColumnElement[Any]] = []
    for column in columns:
        pairs += [literal_column(f"'{column.name}'"), column]
    if dialect == "postgresql":
        rows = func.json_agg(func.json_build_object(*pairs))
    else:
        rows = func.json_group_array(func.json_object(*pairs))
    return core_select(rows).where(*where).scalar_subquery()


def json_rows(
    value: str | list[dict[str, Any]] | None, times: Collection[str] = ()
) -> list[dict[str, Any]]:
    """A :func:`json_array` column as rows. JSON carries times as text (PostgreSQL in the
    session's time zone, SQLite as stored): the ``times`` columns are read back as aware UTC,
    as the column type would."""
    rows: list[dict[str, Any]] = (json.loads(value) if isinstance(value, str) else value) or []
    for row in rows:
        for name in row.keys() & set(times):
            if isinstance(row[name], str):
                row[name] = as_utc(datetime.fromisoformat(row[name]))
    return rows


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel table class."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


async def execute(
    session: AsyncSession, statement: Executable, params: Any = None
) -> CursorResult[Any]:
    """Run a Core statement in the session's transaction, without the ORM."""
    connection: AsyncConnection = await session.connection()
    return await connection.execute(statement, params)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_duplicates(session: AsyncSession, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: rowcount 0 means the key was there."""
    return _insert_ignoring(_dialect(session), table)


def upsert(session: AsyncSession, table: Table) -> Insert:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE`` every other column."""
    return _upsert(_dialect(session), table)


def _insert_for(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


@cache
def _insert_ignoring(dialect: str, table: Table) -> Insert:
    return cast(Insert, _insert_for(dialect)(table).on_conflict_do_nothing())


@cache
def _upsert(dialect: str, table: Table) -> Insert:
    statement = _insert_for(dialect)(table)
    keys = [column.name for column in table.primary_key.columns]
    others = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return cast(Insert, statement.on_conflict_do_update(index_elements=keys, set_=others))


_PENDING = "ipbus.pending_writes"
"""Key in ``session.info`` for the rows waiting to be written at commit."""


class PendingWrites:
    """Rows to insert or upsert, written table by table, in order, just before commit.

    A batch of events then costs one statement per table instead of one per row. Upserts
    of the same key keep only the last row. Whoever buffers rows must not read them back
    from the database in the same transaction (the coordinator keeps the case files it
    wrote in the session instead).
    """

    def __init__(self) -> None:
        self._inserts: dict[Table, list[dict[str, Any]]] = {}
        self._upserts: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._order: list[tuple[str, Table]] = []

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        if table not in self._inserts:
            self._inserts[table] = []
            self._order.append(("insert", table))
        self._inserts[table].append(row)

    def upsert(self, table: Table, row: dict[str, Any]) -> None:
        if table not in self._upserts:
            self._upserts[table] = {}
            self._order.append(("upsert", table))
        key = tuple(row[column.name] for column in table.primary_key.columns)
        self._upserts[table].pop(key, None)
        self._upserts[table][key] = row

    async def flush(self, session: AsyncSession) -> None:
        order, self._order = self._order, []
        for kind, table in order:
            if kind == "insert":
                rows = self._inserts.pop(table)
                await execute(session, _insert(table), rows)
            else:
                upserts = list(self._upserts.pop(table).values())
                await execute(session, upsert(session, table), upserts)


def pending_writes(session: AsyncSession) -> PendingWrites:
    """The session's buffer of rows to write at commit (see ``Database.transaction``)."""
    writes: PendingWrites | None = session.info.get(_PENDING)
    if writes is None:
        writes = session.info[_PENDING] = PendingWrites()
    return writes


async def flush_pending_writes(session: AsyncSession) -> None:
    writes: PendingWrites | None = session.info.get(_PENDING)
    if writes is not None:
        await writes.flush(session)


_TURNS_HELD = "ipbus_turns_held"
"""``session.info`` key: the turns this transaction holds (advisory locks last as long)."""
_TAKE_TURNS = text(
    "SELECT count(pg_advisory_xact_lock(turn)) FROM"
    " (SELECT DISTINCT hashtext(key) AS turn FROM unnest(CAST(:keys AS text[])) AS key"
    "  ORDER BY turn) AS turns"
)


async def take_turns(session: AsyncSession, *keys: str) -> None:
    """PostgreSQL: hold, until this transaction ends, the advisory lock of each of ``keys``
    in this schema. Work that reads and writes across cases (a party seen in several cases,
    a company's credit listing, the audit chain) takes its key first, so two partitions of
    the coordinator applying at once take turns on it.

    The locks of one call are taken in one statement, in the order of their lock ids; a
    transaction that takes every turn it will need in one call (the coordinator's batch
    does) cannot deadlock with another that does the same. Keys this transaction already
    holds cost nothing. SQLite has one writer at a time already: nothing to do."""
    if session.get_bind().dialect.name != "postgresql":
        return
    held: set[str] = session.info.setdefault(_TURNS_HELD, set())
    wanted = sorted(set(keys) - held)
    if not wanted:
        return
    connection = await session.connection()
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    schema = (options.get("schema_translate_map") or {}).get(None) or "public"
    await connection.execute(_TAKE_TURNS, {"keys": [f"{schema}.{key}" for key in wanted]})
    held.update(wanted)
