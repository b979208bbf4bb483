"""SQLite with one trip to aiosqlite's thread per statement (issue 18).

The adapter replaces how a statement reaches the driver, so everything a statement gives
back is checked here on a real database file against the stock adapter's behaviour:
rows (also from ``RETURNING``), row counts, the ORM's autoincrement keys (``lastrowid``),
``executemany``, errors as SQLAlchemy's, and rollback. And the point of it: one trip.
"""

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.storage import Database, sqlite_url

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String, unique=True, nullable=False),
    Column("body", String),
)


class Label(SQLModel, table=True):
    __tablename__ = "driver_labels"

    id: int | None = Field(default=None, primary_key=True)
    name: str


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    database = Database(sqlite_url(tmp_path / "driver.sqlite"), namespace="driver")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(SQLModel.metadata.create_all, tables=[Label.__table__])  # type: ignore[attr-defined]
    yield database
    await database.engine.dispose()


async def test_a_statement_gives_back_what_the_stock_adapter_did(database: Database) -> None:
    async with database.engine.begin() as conn:
        inserted = await conn.execute(
            insert(notes).returning(notes.c.id, notes.c.key),
            [{"key": "a", "body": "one"}, {"key": "b", "body": "two"}],
        )
        assert sorted(tuple(row) for row in inserted) == [(1, "a"), (2, "b")]
        many = await conn.execute(insert(notes), [{"key": k} for k in "cde"])
        assert many.rowcount == 3
        changed = await conn.execute(update(notes).where(notes.c.id > 2).values(body="x"))
        assert changed.rowcount == 3
        rows = (await conn.execute(select(notes.c.key).order_by(notes.c.id.desc()))).all()
        assert [row.key for row in rows] == ["e", "d", "c", "b", "a"]
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 5
        assert (await conn.execute(select(notes).where(notes.c.key == "z"))).first() is None
        some = await conn.execute(select(notes.c.key).order_by(notes.c.id))
        assert [row.key for row in some.fetchmany()] == ["a"]  # the driver's arraysize, 1
        assert [[row.key for row in part] for part in some.partitions(2)] == [
            ["b", "c"],
            ["d", "e"],
        ]


async def test_the_orm_gets_its_autoincrement_keys(database: Database) -> None:
    async with AsyncSession(database.engine) as session:
        first, second = Label(name="first"), Label(name="second")
        session.add(first)
        await session.flush()  # one INSERT: the key comes from the cursor's lastrowid
        session.add(second)
        await session.flush()
        assert (first.id, second.id) == (1, 2)
        await session.commit()


async def test_errors_are_sqlalchemys_and_roll_the_transaction_back(database: Database) -> None:
    async def insert_twice() -> None:
        async with database.engine.begin() as conn:
            await conn.execute(insert(notes), {"key": "kept?"})
            await conn.execute(insert(notes), {"key": "kept?"})

    with pytest.raises(IntegrityError):
        await insert_twice()
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 0


async def test_one_trip_to_the_thread_per_statement(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    to_thread = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await to_thread(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    async with database.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection's own setup is not counted
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        await conn.execute(insert(notes).returning(notes.c.id), {"key": "a"})
        await conn.execute(select(notes))
        await conn.execute(update(notes).values(body="b"))
        await conn.commit()
        counted_trips = list(trips)
    # three statements and the commit; SQLAlchemy's own adapter made 3-4 trips a statement
    assert counted_trips == ["_run_statement"] * 3 + ["commit"], counted_trips
