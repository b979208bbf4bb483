"""One async database per service: SQLite by default, PostgreSQL by URL.

Each service (one per agency) owns its own namespace: a SQLite file of its own, or a
PostgreSQL schema of its own in a shared database, so no service can read another's
tables by accident and tests can run side by side.
"""

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import registry
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.bus.errors import ConfigurationError, RetryableError
from services.runtime.identity.secret_files import touch_private
from services.runtime.storage.database_roles import schema_name, service_role_sql
from services.runtime.storage.database_roles import service_role as _service_role
from services.runtime.storage.sql import flush_pending_writes
from services.runtime.storage.sqlite_driver import one_trip_dbapi

LOCK_TIMEOUT_MS = 10_000
CONFLICT_ATTEMPTS = 4
"""Runs of one writing transaction PostgreSQL keeps aborting for concurrent ones before
:meth:`Database.write` lets the abort through."""
CONFLICT_PAUSE_S = 0.02
"""Before a run again, up to this times the attempt, at random: the two sides of a
deadlock must not meet again in step."""
IDLE_IN_TRANSACTION_MS = 60_000

__all__ = ["Database", "RuntimeTable", "database_url_for", "sqlite_url"]

T = TypeVar("T")


class RuntimeTable(SQLModel, registry=registry()):
    """Base of the runtime's own tables (inbox, outbox), kept apart from any service's."""


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def database_url_for(base_url: str | None, data_dir: Path, namespace: str) -> str:
    """The URL a service with ``namespace`` uses.

    No URL: ``<data_dir>/db/<namespace>.sqlite``. A SQLite URL ``.../ipbus.sqlite``:
    ``.../ipbus.<namespace>.sqlite``. Anything else (PostgreSQL) is shared and the
    namespace becomes a schema (see :class:`Database`).
    """
    if base_url is None:
        return sqlite_url(data_dir / "db" / f"{namespace}.sqlite")
    url = make_url(base_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        return str(url.set(database=str(path.with_name(f"{path.stem}.{namespace}{path.suffix}"))))
    return base_url


def _schema_name(namespace: str) -> str:
    return schema_name(namespace)


class Database:
    """An async engine plus the one way to open a transaction on it.

    Errors that mean "try again" (locked database, lost connection, a versioned row
    changed since it was read) are translated here, once, into :class:`RetryableError`.
    """

    def __init__(self, url: str, *, namespace: str, service_role: bool = False) -> None:
        self.url = url
        self.namespace = namespace
        self.role: str | None = None
        """PostgreSQL with ``service_role``: every session acts as the service's own role
        (:mod:`services.runtime.storage.database_roles`), created with its schema if missing."""
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                touch_private(Path(parsed.database))  # 0600: SQLite gives its WAL the same
            # one trip to aiosqlite's thread per statement (sqlite_driver.py)
            engine = create_async_engine(url, module=one_trip_dbapi(), connect_args={"timeout": 30})
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            self.schema: str | None = None
        elif self.dialect == "postgresql":
            self.schema = _schema_name(namespace)
            connect_args: dict[str, object] = {}
            if parsed.get_driver_name() == "asyncpg":
                # A lock wait or a transaction left open must end as an error the consumer
                # retries (the message is nak'ed), never as a service that hangs for good.
                connect_args["server_settings"] = {
                    "lock_timeout": str(LOCK_TIMEOUT_MS),
                    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
                }
            # No pre-ping: it costs a round trip per transaction (per batch, per query); a
            # connection that died with the server fails its transaction as a RetryableError
            # (the batch is nak'ed and retried) and the pool replaces it.
            engine = create_async_engine(
                url, pool_size=5, max_overflow=5, pool_pre_ping=False, connect_args=connect_args
            )
            if service_role:
                self.role = _service_role(namespace)
                event.listen(engine.sync_engine, "connect", _set_role(self.role))
            engine = engine.execution_options(schema_translate_map={None: self.schema})
        else:
            raise ConfigurationError(
                f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL"
            )
        self.engine: AsyncEngine = engine
        self._sqlite_writer = asyncio.Lock() if self.dialect == "sqlite" else None

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """SQLite: one writing transaction of this process at a time (the coordinator
        applies several partitions at once; SQLite has one writer, and two deferred
        transactions upgrading to write fail one another as busy). PostgreSQL: no wait."""
        if self._sqlite_writer is None:
            yield
            return
        async with self._sqlite_writer:
            yield

    async def enter_schema(self, conn: AsyncConnection, *, create: bool) -> None:
        """Point ``conn``'s transaction at this namespace's schema (PostgreSQL; SQLite: no-op).

        With ``create``, first take the schema's advisory lock (replicas starting together
        migrate one after the other) and create the schema if missing. Alembic reflects
        the "default" schema, hence ``search_path`` besides the engine's translate map.
        """
        if self.schema is None:
            return
        if create:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:schema))"), {"schema": self.schema}
            )
            # Only when missing: a service's own role (deploy/ creates the schema for it)
            # may not CREATE on the database, and PostgreSQL checks that right even for
            # IF NOT EXISTS.
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"),
                {"schema": self.schema},
            )
            if exists is None:
                await conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        await conn.execute(text(f'SET LOCAL search_path TO "{self.schema}"'))

    async def create_role(self) -> None:
        """The service's role and schema, on a connection of the URL's own (admin) user."""
        admin = create_async_engine(self.url, poolclass=NullPool)
        try:
            async with admin.begin() as conn:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:schema))"),
                    {"schema": self.schema},
                )
                for statement in service_role_sql(self.namespace):
                    await conn.execute(text(statement))
        finally:
            await admin.dispose()

    async def drop_namespace(self) -> None:
        """Remove everything this namespace holds (tests and ``ipbus`` resets only)."""
        if self.schema is not None:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    async def write(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        *,
        on_conflict: Callable[[int, Exception], None] | None = None,
        attempts: int = CONFLICT_ATTEMPTS,
    ) -> T:
        """Run ``work`` in one writing transaction, in this process's :meth:`write_turn`.

        PostgreSQL rolls a transaction back when it deadlocks with a concurrent one (two
        partitions of the coordinator taking two parties' turns in opposite orders) or
        cannot be serialised with it; the ORM gives up on a versioned row another
        transaction changed since this one read it (``StaleDataError``). Nothing of it was
        applied, and run again it reads what the other one wrote and goes through, so it
        is run again at once (``on_conflict`` is told), up to ``attempts`` times. Anything
        else is raised as it comes.
        """
        for attempt in range(1, attempts + 1):
            try:
                async with self.write_turn(), self.transaction() as session:
                    return await work(session)
            except Exception as exc:
                if attempt == attempts or not _lost_to_concurrent(exc):
                    raise
                if on_conflict is not None:
                    on_conflict(attempt, exc)
                await asyncio.sleep(random.uniform(0.0, CONFLICT_PAUSE_S * attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work, pending writes included, commits on a clean exit."""
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session
                await flush_pending_writes(session)
        except DBAPIError as exc:
            if _is_passing(exc):
                raise RetryableError(f"database unavailable: {exc.orig}") from exc
            raise
        except StaleDataError as exc:  # read before another transaction wrote: read again
            raise RetryableError(f"a row changed under this transaction: {exc}") from exc

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


_PASSING_FAULTS = ("locked", "busy", "timeout", "timed out", "connection", "closed", "deadlock")


def _is_passing(exc: DBAPIError) -> bool:
    """A fault that another try may not meet: a lost connection, a busy or locked database.

    Anything else (a missing table, a constraint) is a bug or bad data and is not retried.
    """
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return isinstance(exc, OperationalError) and any(word in text for word in _PASSING_FAULTS)


_CONCURRENCY_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure."""


def _lost_to_concurrent(exc: BaseException) -> bool:
    """Whether PostgreSQL rolled the transaction back so that a concurrent one could go on
    (the driver's error, however wrapped, carries the SQLSTATE), or a versioned row changed
    under it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, StaleDataError):
            return True
        for source in (cause, getattr(cause, "orig", None)):
            if getattr(source, "sqlstate", None) in _CONCURRENCY_SQLSTATES:
                return True
        cause = cause.__cause__
    return False


def _set_role(role: str) -> Any:
    def set_role(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET ROLE "{role}"')
        cursor.close()

    return set_role


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL so readers don't block the writer.

    ``synchronous=NORMAL`` in WAL mode: a committed transaction survives a crash of the
    process (kill -9), which is what acknowledging after commit relies on; an OS crash or
    power cut may lose the last commits — as JetStream's own file store, which syncs
    periodically, may. Production runs on PostgreSQL.
    """
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
