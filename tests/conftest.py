"""Fixtures shared by every suite: a real nats-server from the wheel, real databases."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from contracts.subjects import AUDIT_ANCHOR_STREAM, DLQ_STREAM, EVENT_STREAM
from services.runtime.identity import Settings
from services.runtime.server import EmbeddedNatsServer, free_port
from services.sdk import provision_streams

REPO = Path(__file__).resolve().parent.parent
REGISTRY = REPO / "deploy" / "agencies.toml"
DEPLOYED_POLICY = REPO / "deploy" / "policy.toml"
POSTGRES_URL = os.environ.get(
    "IPBUS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
async def nats_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[EmbeddedNatsServer]:
    """One nats-server with JetStream for the whole run, on a free port, in a temp store."""
    server = EmbeddedNatsServer(tmp_path_factory.mktemp("nats"), port=free_port())
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


LEFT_RUNNING_GRACE_S = 2.0
"""How long teardown waits for a task that is already ending before calling it left running."""


@pytest.fixture
async def nothing_left_running() -> AsyncIterator[None]:
    """Fail a test that leaves a task of its own running once its fixtures are torn down.

    Every test shares one event loop: a service, gateway or loop a test forgets to stop
    would go on answering (or polling a dropped schema) during the tests after it. A
    suite's conftest requests this from an autouse fixture, so it is set up before the
    test's other function fixtures and torn down after them; whatever task appeared
    meanwhile and still runs is listed, cancelled, and fails the test.
    """
    before = asyncio.all_tasks()
    yield
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEFT_RUNNING_GRACE_S
    while True:
        this = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() - before if t is not this and not t.done()]
        if not left or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    if left:
        names = sorted(f"{t.get_name()} ({t.get_coro()!r})" for t in left)
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=5)
        pytest.fail(f"{len(left)} task(s) left running after the test: {'; '.join(names)}")


@pytest.fixture
async def fresh_streams(nats_server: EmbeddedNatsServer) -> str:
    """Empty IPBUS, IPBUS_DLQ and audit-anchor streams (and so no consumers) for this test."""
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        for stream in (EVENT_STREAM, DLQ_STREAM, AUDIT_ANCHOR_STREAM):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(stream)
    finally:
        await nc.close()
    await provision_streams(nats_server.url)
    return nats_server.url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` (SQLite files under the data dir) or the local PostgreSQL server."""
    if request.param == "sqlite":
        return None
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 under CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return POSTGRES_URL


_ON_POSTGRESQL: set[str] = set()
"""Schema prefixes a test used on PostgreSQL: their schemas are dropped at its teardown."""


@pytest.fixture
async def schema_prefix() -> AsyncIterator[str]:
    """A unique schema prefix so PostgreSQL runs never see each other's tables.

    The schemas are dropped here, at this fixture's teardown, and not by a fixture that
    uses the prefix: whatever runs in them (a bus, a gateway) depends on this fixture, so
    pytest has stopped it before — a dropped schema never has a service still polling it.
    """
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    yield prefix
    if prefix in _ON_POSTGRESQL:
        _ON_POSTGRESQL.discard(prefix)
        await drop_schemas(prefix)


def on_postgresql(prefix: str) -> None:
    """Drop the schemas under ``prefix`` when its :func:`schema_prefix` fixture ends."""
    _ON_POSTGRESQL.add(prefix)


@pytest.fixture
def database_settings(database_url: str | None, schema_prefix: str) -> dict[str, Any]:
    """The database fields of :class:`Settings` for this test's backend and namespace.

    For a test that builds its own settings (a secured server, TLS) and still runs on
    both databases, as :func:`settings` does.
    """
    if database_url is not None:
        on_postgresql(schema_prefix)
    return {
        "database_url": database_url,
        "database_schema_prefix": schema_prefix,
        # PostgreSQL: each service acts in its own role, which can write no other's schema
        "database_service_roles": database_url is not None,
    }


@pytest.fixture
def settings(tmp_path: Path, fresh_streams: str, database_settings: dict[str, Any]) -> Settings:
    """Settings for one test's bus: its own streams, data dir and database namespace."""
    return Settings.model_validate(
        {
            "nats_url": fresh_streams,
            "data_dir": tmp_path / "var",
            "registry_path": REGISTRY,
            "outbox_poll_seconds": 0.2,
            **database_settings,
        }
    )


async def drop_schemas(prefix: str) -> None:
    """Remove every schema a test created on PostgreSQL."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        names = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", prefix + "%"
        )
        for (name,) in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        roles = await conn.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", "ipbus_" + prefix + "%"
        )
        for (role,) in roles:
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


def write_policy(
    directory: Path, changes: str = "", *, replace: Mapping[str, str] | None = None
) -> Path:
    """``directory/policy.toml``: the deployed policy with ``changes`` on top, or its text
    with each ``replace`` key swapped for its value.

    ``changes`` are TOML tables the file ``extends`` the deployed policy with. A key of
    ``replace`` that is not in the deployed text fails here, so a renamed setting cannot
    silently leave a test running on the default it meant to change.
    """
    if replace:
        text = DEPLOYED_POLICY.read_text(encoding="utf-8")
        for old, new in replace.items():
            assert old in text, f"{old!r} is not in {DEPLOYED_POLICY}"
            text = text.replace(old, new, 1)
        text += changes
    else:
        text = f'extends = "{DEPLOYED_POLICY}"\n\n{changes}'
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path
