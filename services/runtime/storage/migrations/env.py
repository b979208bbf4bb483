"""Alembic's entry point for every ipbus schema.

Self-contained on purpose (only Alembic and SQLAlchemy): it is run with whatever code
generates a revision, including the previous release's for the baseline. The caller
(:mod:`services.runtime.storage.migrations`) hands over the connection, already in a transaction
and on the service's schema, and the target metadata.
"""

from typing import Any, Literal

from alembic import context
from sqlalchemy import MetaData, TypeDecorator


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write a column's storage type, not the Python wrapper around it.

    A revision must not import the code it migrates (which changes after it): a
    ``TypeDecorator`` such as ``UtcDateTime`` is written as the SQL type it stores.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return "sa." + repr(obj.impl)
    if type_ == "type" and type(obj).__module__.startswith("sqlmodel"):
        return "sa." + repr(obj).replace("AutoString", "String")
    return False


config = context.config
connection = config.attributes["connection"]
target: MetaData | list[MetaData] | None = config.attributes.get("target_metadata")
context.configure(
    connection=connection,
    target_metadata=target,
    render_as_batch=True,  # SQLite alters a table by copying it
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
