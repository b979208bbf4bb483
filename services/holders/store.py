"""The desk's own table: the notices customs sent its holders, and how each was answered."""

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.storage import UtcDateTime, declare_history

__all__ = ["HoldersTable", "NoticeRecord", "NoticeState"]


class HoldersTable(SQLModel, registry=registry()):
    """Base of the desk's own tables (a change to them needs a revision in
    ``services/holders/migrations``: ``ipbus db revision holders``)."""


declare_history(HoldersTable.metadata, "holders", Path(__file__).parent / "migrations")


class NoticeState:
    NOTIFIED = "notified"
    APPLIED = "applied"
    DECLINED = "declined"
    LAPSED = "lapsed"


class NoticeRecord(HoldersTable, table=True):
    """One customs notice to a holder this desk represents (what ``holder.notified`` says)."""

    __tablename__ = "holders_notice"

    notice_id: str = Field(primary_key=True, max_length=26)
    holder: str = Field(index=True, max_length=255)
    case_id: str = Field(max_length=26)
    detention_id: str = Field(max_length=26)
    port: str
    hs_code: str = Field(max_length=10)
    quantity: int
    ip_right: str
    """The right's JSON, as the notice gives it."""
    received_at: datetime = Field(sa_type=UtcDateTime)
    respond_by: datetime | None = Field(default=None, sa_type=UtcDateTime)
    state: str = Field(default=NoticeState.NOTIFIED, max_length=16)
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    answer_ref: str | None = None
