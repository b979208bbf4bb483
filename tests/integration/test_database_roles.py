"""One PostgreSQL role per service: an agency's role cannot touch the coordinator's tables.

Real PostgreSQL (127.0.0.1:5432, db ``test``): the roles are created as the deployment's
init script and ``IPBUS_DATABASE_SERVICE_ROLES`` create them, and dropped afterwards.
"""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.coordinator.audit.store import AuditRecord
from services.coordinator.store import CoordinatorTable
from services.runtime.storage import Database, roles_sql, service_role, upgrade_schema
from tests.conftest import POSTGRES_URL, _postgres_reachable, drop_schemas

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"r{uuid.uuid4().hex[:8]}_"
    yield name
    await drop_schemas(name)


async def test_an_agencys_role_cannot_write_the_coordinators_schema(prefix: str) -> None:
    coordinator = Database(POSTGRES_URL, namespace=prefix + "coordinator", service_role=True)
    customs = Database(POSTGRES_URL, namespace=prefix + "customs-shanghai", service_role=True)
    try:
        await upgrade_schema(coordinator, [CoordinatorTable.metadata])
        await upgrade_schema(customs)
        audit = f'"{coordinator.schema}"."{AuditRecord.__tablename__}"'
        async with coordinator.engine.begin() as conn:  # its owner may
            assert await conn.scalar(text("SELECT current_user")) == coordinator.role
            await conn.execute(text(f"SELECT count(*) FROM {audit}"))
        for statement in (
            f"DELETE FROM {audit}",
            f"SELECT count(*) FROM {audit}",
            f'CREATE TABLE "{coordinator.schema}".planted (x int)',
            f'DROP SCHEMA "{coordinator.schema}" CASCADE',
        ):
            async with customs.engine.connect() as conn:
                assert await conn.scalar(text("SELECT current_user")) == customs.role
                with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                    await conn.execute(text(statement))
    finally:
        await coordinator.close()
        await customs.close()


async def test_the_deployment_script_makes_login_roles_owning_only_their_schema(
    prefix: str,
) -> None:
    import asyncpg  # type: ignore[import-untyped]

    namespaces = [prefix + "coordinator", prefix + "amr-shanghai"]
    passwords = {n: uuid.uuid4().hex for n in namespaces}
    script = roles_sql(namespaces, passwords).replace(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        "",  # the shared test database keeps it
    )
    admin = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await admin.execute(script)
        await admin.execute(script)  # idempotent
        owners = dict(
            await admin.fetch(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname LIKE $1",
                prefix + "%",
            )
        )
        assert owners == {
            f"{prefix}coordinator": service_role(prefix + "coordinator"),
            f"{prefix}amr_shanghai": service_role(prefix + "amr-shanghai"),
        }
        can_login = await admin.fetchval(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1",
            service_role(prefix + "amr-shanghai"),
        )
        assert can_login
        visible = await admin.fetchval(
            "SELECT has_schema_privilege($1, $2, 'USAGE')",
            service_role(prefix + "amr-shanghai"),
            f"{prefix}coordinator",
        )
        assert visible is False
    finally:
        await admin.close()
