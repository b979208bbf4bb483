"""Batches waiting for SQLite's one writer go in one transaction, each keeping its own fate."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.storage import Database, GroupCommit, execute, sqlite_url


class Refused(Exception):
    pass


class Ledger:
    """Work that writes each item as a row and answers it in capitals; "bad" is refused."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []

    async def write(self, session: AsyncSession, items: list[str]) -> list[str]:
        self.transactions.append(list(items))
        for item in items:
            await execute(
                session, text("INSERT INTO applied (item) VALUES (:item)"), {"item": item}
            )
            if item == "bad":
                raise Refused(item)
        return [item.upper() for item in items]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(sqlite_url(tmp_path / "g.sqlite"), namespace="g")
    async with database.transaction() as session:
        await execute(session, text("CREATE TABLE applied (item TEXT PRIMARY KEY)"))
    yield database
    await database.close()


async def rows(db: Database) -> list[str]:
    async with db.transaction() as session:
        return list(
            (await execute(session, text("SELECT item FROM applied ORDER BY item"))).scalars()
        )


async def waiting_behind_the_writer(
    db: Database, *batches: list[str]
) -> tuple[Ledger, list["asyncio.Task[list[str]]"]]:
    """Start a write of each batch while the writer is busy, then free it."""
    ledger = Ledger()
    group = GroupCommit(db, ledger.write)
    async with db.write_turn():
        tasks = [asyncio.create_task(group.write(batch)) for batch in batches]
        for _ in range(5):
            await asyncio.sleep(0)  # every task queued on the writer
    await asyncio.wait(tasks)
    return ledger, tasks


async def test_batches_that_waited_for_the_writer_share_one_transaction(db: Database) -> None:
    ledger, tasks = await waiting_behind_the_writer(db, ["a1", "a2"], ["b1"], ["c1", "c2"])

    assert ledger.transactions == [["a1", "a2", "b1", "c1", "c2"]]  # one, in arrival order
    assert [t.result() for t in tasks] == [["A1", "A2"], ["B1"], ["C1", "C2"]]
    assert await rows(db) == ["a1", "a2", "b1", "c1", "c2"]


async def test_a_batch_failing_in_a_group_fails_alone(db: Database) -> None:
    ledger, tasks = await waiting_behind_the_writer(db, ["a"], ["ok", "bad"], ["c"])

    assert ledger.transactions == [["a", "ok", "bad", "c"], ["a"], ["ok", "bad"], ["c"]]
    assert tasks[0].result() == ["A"]
    with pytest.raises(Refused):
        tasks[1].result()
    assert tasks[2].result() == ["C"]
    assert await rows(db) == ["a", "c"]  # nothing of the failed batch, the others once


async def test_a_lone_batch_is_written_at_once_and_its_failure_is_its_own(db: Database) -> None:
    ledger = Ledger()
    group = GroupCommit(db, ledger.write)

    assert await group.write(["x"]) == ["X"]
    with pytest.raises(Refused):
        await group.write(["bad"])
    assert ledger.transactions == [["x"], ["bad"]]
    assert await rows(db) == ["x"]


async def test_a_batch_whose_caller_gave_up_while_waiting_is_not_written(db: Database) -> None:
    ledger = Ledger()
    group = GroupCommit(db, ledger.write)
    async with db.write_turn():
        gone = asyncio.create_task(group.write(["gone"]))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
    assert await group.write(["kept"]) == ["KEPT"]

    assert gone.cancelled()
    assert await rows(db) == ["kept"]
    assert ledger.transactions == [["kept"]]
