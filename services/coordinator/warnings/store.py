"""The coordinator's warning tables: each warning once, and one row per recipient.

A delivery row is the follow-up timer too: ``check_at`` is when the watcher must look at
it again, so a restart resumes exactly where it stopped.
"""

from datetime import datetime

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.warnings import Severity, WarningIssued
from services.coordinator.store import CoordinatorTable
from services.coordinator.warnings.rules import DeliveryState
from services.runtime.storage import UtcTimestamp

__all__ = [
    "DeliveryRecord",
    "IssuedWarningRecord",
    "deliveries_of",
    "delivery_state",
    "due_deliveries",
    "list_warnings",
]


class IssuedWarningRecord(CoordinatorTable, table=True):
    """A warning issued to the coordinator, once (an agency's copy of a warning it issued or
    received is the SDK's ``WarningRecord``)."""

    __tablename__ = "coordinator_warning"

    warning_id: str = Field(primary_key=True, max_length=26)
    issuer: str = Field(max_length=63)
    severity: str = Field(max_length=10)
    payload: str
    """The ``warning.issued`` payload as JSON, re-sent whole on every delivery."""
    issued_at: datetime = Field(sa_type=UtcTimestamp)
    expires_at: datetime = Field(sa_type=UtcTimestamp)
    retracted_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    retract_reason: str | None = None

    @property
    def warning(self) -> WarningIssued:
        return WarningIssued.model_validate_json(self.payload)


class DeliveryRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_warning_delivery"

    warning_id: str = Field(primary_key=True, max_length=26)
    agency_id: str = Field(primary_key=True, max_length=63)
    reasons: str
    deliveries: int = 1
    first_delivered_at: datetime = Field(sa_type=UtcTimestamp)
    last_delivered_at: datetime = Field(sa_type=UtcTimestamp)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    escalated_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    retraction_sent_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    check_at: datetime | None = Field(default=None, index=True, sa_type=UtcTimestamp)


def delivery_state(warning: IssuedWarningRecord, delivery: DeliveryRecord) -> DeliveryState:
    return DeliveryState(
        severity=Severity(warning.severity),
        expires_at=warning.expires_at,
        deliveries=delivery.deliveries,
        last_delivered_at=delivery.last_delivered_at,
        acknowledged=delivery.acknowledged_at is not None,
        escalated=delivery.escalated_at is not None,
        retracted=warning.retracted_at is not None,
    )


async def deliveries_of(session: AsyncSession, warning_id: str) -> list[DeliveryRecord]:
    rows = await session.exec(
        select(DeliveryRecord)
        .where(DeliveryRecord.warning_id == warning_id)
        .order_by(col(DeliveryRecord.agency_id))
    )
    return list(rows)


async def due_deliveries(
    session: AsyncSession, now: datetime, *, limit: int = 100
) -> list[tuple[DeliveryRecord, IssuedWarningRecord]]:
    """Deliveries whose follow-up is due, locked so that two coordinators never both act."""
    rows = await session.exec(
        select(DeliveryRecord)
        .where(col(DeliveryRecord.check_at).is_not(None), col(DeliveryRecord.check_at) <= now)
        .order_by(col(DeliveryRecord.check_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    due: list[tuple[DeliveryRecord, IssuedWarningRecord]] = []
    for delivery in rows:
        warning = await session.get(IssuedWarningRecord, delivery.warning_id)
        if warning is not None:
            due.append((delivery, warning))
    return due


async def list_warnings(
    session: AsyncSession, *, active_at: datetime | None = None
) -> list[IssuedWarningRecord]:
    """Every warning, oldest first; only those active at ``active_at`` when it is given."""
    query = select(IssuedWarningRecord)
    if active_at is not None:
        query = query.where(
            col(IssuedWarningRecord.retracted_at).is_(None),
            col(IssuedWarningRecord.expires_at) > active_at,
        )
    rows = await session.exec(query.order_by(col(IssuedWarningRecord.issued_at)))
    return list(rows)
