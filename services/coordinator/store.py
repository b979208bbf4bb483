"""The coordinator's database: the base of its tables and where their migrations live.

Every table of the coordinator (in ``cases/``, ``deadlines/``, ``warnings/``, ``signals/``,
``audit/``, ``oversight/``, ``metrics/``) subclasses :class:`CoordinatorTable`.
"""

from pathlib import Path

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from services.runtime.storage import declare_history

__all__ = ["CoordinatorTable"]


class CoordinatorTable(SQLModel, registry=registry()):
    """Base of the coordinator's own tables (a change to them needs a revision in
    ``services/coordinator/migrations``: ``ipbus db revision coordinator``)."""


declare_history(CoordinatorTable.metadata, "coordinator", Path(__file__).parent / "migrations")
