"""Customs' own table: the goods it holds."""

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.storage import declare_history

__all__ = ["CustomsTable", "DetentionRecord"]


class CustomsTable(SQLModel, registry=registry()):
    """Base of customs' own tables (a change to them needs a revision in
    ``services/customs/migrations``: ``ipbus db revision customs``)."""


declare_history(CustomsTable.metadata, "customs", Path(__file__).parent / "migrations")


class DetentionRecord(CustomsTable, table=True):
    __tablename__ = "customs_detention"

    detention_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    port: str
    hs_code: str = Field(max_length=10)
    quantity: int
    status: str = Field(default="detained", max_length=20)
    """``notified`` (clearance suspended, the holder told: art. 16), ``detained``,
    ``released`` or ``confiscated``."""
    detained_at: datetime
    """When the goods were held: the notice (art. 16) or the detention (art. 15)."""
    basis: str | None = Field(default=None, max_length=20)
    bond_ref: str | None = None
    court_notice_ref: str | None = None
    goods_event: str = ""
    """The ``goods.detained`` payload (JSON) this detention sends: at once on application
    (art. 15), once the holder applies in time after a notice (art. 16)."""
