"""Customs' own table: the goods it holds."""

from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = ["CustomsTable", "DetentionRecord"]


class CustomsTable(SQLModel, registry=registry()):
    """Base of customs' own tables."""


class DetentionRecord(CustomsTable, table=True):
    __tablename__ = "customs_detention"

    detention_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    port: str
    hs_code: str = Field(max_length=10)
    quantity: int
    status: str = Field(default="detained", max_length=20)
    detained_at: datetime
