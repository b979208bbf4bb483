"""Each service's database: SQLite or PostgreSQL, per-service roles, core SQL for the hot path, UTC
columns, migrations.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.storage.database import (
        Database,
        RuntimeTable,
        database_url_for,
        sqlite_url,
    )
    from services.runtime.storage.database_roles import roles_sql, service_role
    from services.runtime.storage.group_commit import GroupCommit
    from services.runtime.storage.migrations import (
        SchemaOutOfDate,
        alembic_config,
        current_revisions,
        declare_history,
        histories,
        new_revision,
        pending_changes,
        require_schema,
        schema_revisions,
        upgrade_schema,
    )
    from services.runtime.storage.sql import (
        execute,
        insert_ignoring_duplicates,
        json_array,
        json_rows,
        pending_writes,
        table_of,
        take_turns,
    )
    from services.runtime.storage.timestamps import UtcDateTime, UtcTimestamp, as_utc

__all__ = [
    "Database",
    "GroupCommit",
    "RuntimeTable",
    "SchemaOutOfDate",
    "UtcDateTime",
    "UtcTimestamp",
    "alembic_config",
    "as_utc",
    "current_revisions",
    "database_url_for",
    "declare_history",
    "execute",
    "histories",
    "insert_ignoring_duplicates",
    "json_array",
    "json_rows",
    "new_revision",
    "pending_changes",
    "pending_writes",
    "require_schema",
    "roles_sql",
    "schema_revisions",
    "service_role",
    "sqlite_url",
    "table_of",
    "take_turns",
    "upgrade_schema",
]
_EXPORTS = {
    "Database": "services.runtime.storage.database",
    "GroupCommit": "services.runtime.storage.group_commit",
    "RuntimeTable": "services.runtime.storage.database",
    "SchemaOutOfDate": "services.runtime.storage.migrations",
    "UtcDateTime": "services.runtime.storage.timestamps",
    "UtcTimestamp": "services.runtime.storage.timestamps",
    "alembic_config": "services.runtime.storage.migrations",
    "as_utc": "services.runtime.storage.timestamps",
    "current_revisions": "services.runtime.storage.migrations",
    "database_url_for": "services.runtime.storage.database",
    "declare_history": "services.runtime.storage.migrations",
    "execute": "services.runtime.storage.sql",
    "histories": "services.runtime.storage.migrations",
    "insert_ignoring_duplicates": "services.runtime.storage.sql",
    "json_array": "services.runtime.storage.sql",
    "json_rows": "services.runtime.storage.sql",
    "new_revision": "services.runtime.storage.migrations",
    "pending_changes": "services.runtime.storage.migrations",
    "pending_writes": "services.runtime.storage.sql",
    "require_schema": "services.runtime.storage.migrations",
    "roles_sql": "services.runtime.storage.database_roles",
    "schema_revisions": "services.runtime.storage.migrations",
    "service_role": "services.runtime.storage.database_roles",
    "sqlite_url": "services.runtime.storage.database",
    "table_of": "services.runtime.storage.sql",
    "take_turns": "services.runtime.storage.sql",
    "upgrade_schema": "services.runtime.storage.migrations",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
