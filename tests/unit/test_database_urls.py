"""One database per service: where its URL points, and what a transaction does."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from services.runtime.bus import ConfigurationError
from services.runtime.storage import Database, database_url_for, sqlite_url, upgrade_schema

NOTES = MetaData()
NOTE = Table(
    "test_note",
    NOTES,
    Column("id", Integer, primary_key=True),
    Column("text", String(40), nullable=False),
)


@pytest.mark.parametrize(
    ("base_url", "data_dir", "namespace", "expected"),
    [
        pytest.param(
            None,
            Path("/srv/ipbus"),
            "customs-shanghai",
            "sqlite+aiosqlite:////srv/ipbus/db/customs-shanghai.sqlite",
            id="default-under-data-dir",
        ),
        pytest.param(
            None,
            Path("var"),
            "coordinator",
            "sqlite+aiosqlite:///var/db/coordinator.sqlite",
            id="relative-data-dir",
        ),
        pytest.param(
            "sqlite+aiosqlite:////tmp/x/ipbus.sqlite",
            Path("/unused"),
            "amr-shanghai",
            "sqlite+aiosqlite:////tmp/x/ipbus.amr-shanghai.sqlite",
            id="sqlite-file-gets-namespace",
        ),
        pytest.param(
            "sqlite+aiosqlite:///data/ipbus.db",
            Path("/unused"),
            "coordinator",
            "sqlite+aiosqlite:///data/ipbus.coordinator.db",
            id="relative-sqlite-file",
        ),
        pytest.param(
            "postgresql+asyncpg://ipbus:s3cret@db.internal:5432/ipbus",
            Path("/unused"),
            "customs-shanghai",
            "postgresql+asyncpg://ipbus:s3cret@db.internal:5432/ipbus",
            id="postgresql-unchanged",
        ),
    ],
)
def test_the_database_url_of_a_namespace(
    base_url: str | None, data_dir: Path, namespace: str, expected: str
) -> None:
    assert database_url_for(base_url, data_dir, namespace) == expected


@pytest.mark.parametrize(
    "url", ["mysql://ipbus@localhost/ipbus", "mssql+pyodbc://ipbus@localhost/ipbus"]
)
def test_an_unsupported_database_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported database"):
        Database(url, namespace="customs-shanghai")


async def _create_notes(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(NOTES.create_all)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(sqlite_url(tmp_path / "nested" / "t.sqlite"), namespace="t")
    await _create_notes(db)
    yield db
    await db.close()


async def _texts(db: Database) -> list[str]:
    async with db.transaction() as session:
        conn = await session.connection()
        return list((await conn.execute(select(NOTE.c.text).order_by(NOTE.c.id))).scalars())


async def test_the_sqlite_file_and_its_directory_are_created(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "nested" / "t.sqlite"), namespace="t")
    try:
        await _create_notes(db)
        await db.ping()
    finally:
        await db.close()

    assert (tmp_path / "nested" / "t.sqlite").is_file()
    assert db.schema is None
    assert db.dialect == "sqlite"


async def test_a_transaction_that_exits_cleanly_commits(database: Database) -> None:
    await _insert(database, "kept")

    assert await _texts(database) == ["kept"]


class Boom(Exception):
    """A handler failing half-way through its transaction."""


async def _insert(db: Database, text: str, *, then_fail: bool = False) -> None:
    async with db.transaction() as session:
        conn = await session.connection()
        await conn.execute(NOTE.insert().values(text=text))
        if then_fail:
            raise Boom


async def test_a_transaction_that_raises_rolls_back(database: Database) -> None:
    await _insert(database, "before")

    with pytest.raises(Boom):
        await _insert(database, "lost", then_fail=True)

    assert await _texts(database) == ["before"]


async def test_migrating_twice_leaves_the_data_alone(database: Database) -> None:
    await _insert(database, "kept")

    await upgrade_schema(database)
    await upgrade_schema(database)

    assert await _texts(database) == ["kept"]
