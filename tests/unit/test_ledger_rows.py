"""Ledger rows in one transaction: found without a flush, read at most once (SQLite)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from services.runtime.storage import Database, sqlite_url, upgrade_schema
from services.sdk import LocalCaseRecord, add_row, drop_row, find_row, load_rows

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OPEN, OTHER, NEVER = (
    "01JABCDEFGHJKMNPQRSTVWXYZ0",
    "01JABCDEFGHJKMNPQRSTVWXYZ1",
    "01JABCDEFGHJKMNPQRSTVWXYZ2",
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(sqlite_url(tmp_path / "t.sqlite"), namespace="t")
    await upgrade_schema(database)
    yield database
    await database.close()


@pytest.fixture
def statements(db: Database) -> list[str]:
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0])

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    return seen


def case(case_id: str) -> LocalCaseRecord:
    return LocalCaseRecord(
        case_id=case_id, local_ref="R-1", title="t", status="open", opened_at=T0, updated_at=T0
    )


async def test_a_row_added_in_the_transaction_is_found_without_a_flush(
    db: Database, statements: list[str]
) -> None:
    async with db.transaction() as session:
        row = case(OPEN)
        add_row(session, row)
        assert await find_row(session, LocalCaseRecord, OPEN) is row
        assert statements == []  # neither flushed nor selected
    assert statements.count("INSERT") == 1


async def test_a_key_known_absent_is_not_selected_again_until_added(
    db: Database, statements: list[str]
) -> None:
    async with db.transaction() as session:
        assert await find_row(session, LocalCaseRecord, NEVER) is None
        assert await find_row(session, LocalCaseRecord, NEVER) is None
        assert statements == ["SELECT"]
        row = case(NEVER)
        add_row(session, row)
        assert await find_row(session, LocalCaseRecord, NEVER) is row


async def test_a_batch_loads_its_rows_with_one_select(db: Database, statements: list[str]) -> None:
    async with db.transaction() as session:
        add_row(session, case(OPEN))
    statements.clear()
    async with db.transaction() as session:
        await load_rows(session, LocalCaseRecord, LocalCaseRecord.case_id, [OPEN, OTHER])
        found = await find_row(session, LocalCaseRecord, OPEN)
        assert found is not None
        assert found.case_id == OPEN
        assert await find_row(session, LocalCaseRecord, OTHER) is None
        assert statements == ["SELECT"]
        # what the transaction sees is the database's: the loaded row is the stored one
        assert (await session.exec(select(LocalCaseRecord))).one() is found


async def test_a_dropped_row_is_not_found_and_one_added_again_takes_its_place(
    db: Database, statements: list[str]
) -> None:
    async with db.transaction() as session:
        add_row(session, case(OPEN))
    async with db.transaction() as session:
        await load_rows(session, LocalCaseRecord, LocalCaseRecord.case_id, [OPEN])
        stored = await find_row(session, LocalCaseRecord, OPEN)
        assert stored is not None
        await drop_row(session, stored)
        statements.clear()
        assert await find_row(session, LocalCaseRecord, OPEN) is None
        assert statements == []  # known gone: no flush, no SELECT
        again = case(OPEN)
        again.title = "opened again"
        add_row(session, again)
        assert await find_row(session, LocalCaseRecord, OPEN) is again
    async with db.transaction() as session:
        (row,) = (await session.exec(select(LocalCaseRecord))).all()
        assert row.title == "opened again"
    async with db.transaction() as session:
        found = await find_row(session, LocalCaseRecord, OPEN)
        assert found is not None
        await drop_row(session, found)
    async with db.transaction() as session:
        assert (await session.exec(select(LocalCaseRecord))).all() == []
