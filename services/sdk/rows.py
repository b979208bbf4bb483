"""Ledger rows within one transaction: each read at most once, written at commit.

A desk looks a row up by primary key many times in one transaction (the regulator's receipt
of a referral, then its accept and its conclusion; a batch of steps on the same referrals).
``session.get`` would flush every pending write before each miss — an INSERT per outbox row
and an UPDATE per step instead of one batched write at commit — and select again what it
already knows is absent. Here a row added in the transaction is found without a flush, a
row already loaded without a statement, a batch's rows are loaded with one SELECT
(:func:`load_rows`), and only a key nobody asked about yet costs a SELECT.

Rows of a table go through :func:`add_row` in every writer of it, or a lookup may miss one
added but not flushed (the primary key still refuses the duplicate, at commit).
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["add_row", "drop_row", "find_row", "load_rows"]

RowT = TypeVar("RowT", bound=SQLModel)
_KNOWN = "ipbus_rows_known"
"""Rows this transaction added or read, held here: the identity map holds only weak references."""
_ABSENT = "ipbus_rows_absent"


def add_row(session: AsyncSession, row: SQLModel) -> None:
    """Write ``row`` at commit; lookups in this transaction find it meanwhile."""
    session.add(row)
    key = tuple(inspect(type(row)).primary_key_from_instance(row))
    session.info.setdefault(_KNOWN, {})[(type(row), key)] = row
    session.info.get(_ABSENT, set()).discard((type(row), key))


async def drop_row(session: AsyncSession, row: SQLModel) -> None:
    """Delete ``row`` at commit; lookups in this transaction no longer find it (a row added
    again under its key is then written in its place)."""
    await session.delete(row)
    identity = (type(row), tuple(inspect(type(row)).primary_key_from_instance(row)))
    session.info.get(_KNOWN, {}).pop(identity, None)
    session.info.setdefault(_ABSENT, set()).add(identity)


async def find_row(session: AsyncSession, model: type[RowT], key: Any) -> RowT | None:
    """The row of ``model`` with primary key ``key``, as this transaction sees it; no flush."""
    identity = (model, key if isinstance(key, tuple) else (key,))
    known = session.info.get(_KNOWN)
    if known is not None and (row := known.get(identity)) is not None:
        return row  # type: ignore[no-any-return]
    if identity in session.info.get(_ABSENT, ()):
        return None
    with session.no_autoflush:  # the identity map first, then one SELECT
        found = await session.get(model, key)
    if found is None:
        session.info.setdefault(_ABSENT, set()).add(identity)
    else:
        session.info.setdefault(_KNOWN, {})[identity] = found
    return found


async def load_rows(
    session: AsyncSession, model: type[SQLModel], column: Any, keys: Iterable[str]
) -> None:
    """Load the rows of ``model`` whose single-column primary key ``column`` is in ``keys``
    with one SELECT (once per batch), and remember the keys that have none."""
    wanted = {
        key
        for key in keys
        if (model, (key,)) not in session.info.get(_KNOWN, {})
        and (model, (key,)) not in session.info.get(_ABSENT, ())
    }
    if not wanted:
        return
    with session.no_autoflush:
        found = (await session.exec(select(model).where(col(column).in_(wanted)))).all()
    known = session.info.setdefault(_KNOWN, {})
    for row in found:
        known[(model, (getattr(row, column.key),))] = row
    session.info.setdefault(_ABSENT, set()).update(
        (model, (k,)) for k in wanted if (model, (k,)) not in known
    )
