"""The sender's record of every minimisation it applied (where and what; never the value)."""

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime.privacy.minimisation import Minimisation
from services.runtime.storage.database import RuntimeTable

__all__ = ["MinimisationRecord", "record_minimisations"]


class MinimisationRecord(RuntimeTable, table=True):
    __tablename__ = "ipbus_minimisation"

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, max_length=26)
    recipient: str = Field(max_length=63)
    path: str = Field(max_length=255)
    action: str = Field(max_length=20)
    at: datetime


def record_minimisations(
    session: AsyncSession,
    event_id: str,
    recipient: str,
    actions: Sequence[Minimisation],
    now: datetime,
) -> None:
    for action in actions:
        session.add(
            MinimisationRecord(
                event_id=event_id,
                recipient=recipient,
                path=action.path[:255],
                action=action.action,
                at=now,
            )
        )
