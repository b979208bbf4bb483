"""The agency side of early warnings: what every adapter that issues or receives them shares.

Each agency keeps its own ledger: the warnings it issued (``role=issuer``) and the ones the
coordinator delivered to it (``role=recipient``). A re-delivery of a warning already held
only counts; a retraction marks it. Officers acknowledge; services react in a hook.
"""

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field

from contracts.agencies import WarningCategory
from contracts.envelope import Event
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from contracts.warnings import (
    Severity,
    WarningAcknowledged,
    WarningDelivered,
    WarningEscalated,
    WarningIssued,
    WarningRetracted,
    WarningTargets,
)
from services.runtime.bus import StepRefused
from services.runtime.storage import RuntimeTable
from services.sdk.service import AgencyService, UnitOfWork, handles

__all__ = ["WarningDesk", "WarningRecord"]

ISSUER = "issuer"
RECIPIENT = "recipient"


class WarningRecord(RuntimeTable, table=True):
    """One warning as this agency holds it."""

    __tablename__ = "ipbus_warning"

    warning_id: str = Field(primary_key=True, max_length=26)
    role: str = Field(max_length=10)
    category: str = Field(max_length=40)
    severity: str = Field(max_length=10)
    title: str
    body: str
    expires_at: datetime
    received_at: datetime
    deliveries: int = 0
    acknowledged_at: datetime | None = None
    retracted_at: datetime | None = None
    note: str | None = None
    escalations: int = 0


class WarningDesk(AgencyService):
    """An :class:`AgencyService` that can issue, receive and acknowledge warnings."""

    issuable_categories: ClassVar[frozenset[WarningCategory]] = frozenset(WarningCategory)
    """What this kind of agency may warn about; :meth:`issue_warning` refuses the rest."""

    # -- hooks --------------------------------------------------------------------------

    async def on_warning_received(
        self, uow: UnitOfWork, record: WarningRecord, warning: WarningIssued
    ) -> None:
        """A warning was delivered to us for the first time; react here."""

    # -- commands -----------------------------------------------------------------------

    async def issue_warning(
        self,
        uow: UnitOfWork,
        *,
        category: WarningCategory,
        severity: Severity,
        title: str,
        body: str,
        targets: WarningTargets,
        expires_at: datetime,
    ) -> WarningRecord:
        """Raise a warning; the coordinator routes it to the agencies it concerns."""
        if category not in self.issuable_categories:
            raise StepRefused(f"{self.agency.id} does not issue {category.value} warnings")
        warning = WarningIssued(
            warning_id=new_ulid(),
            category=category,
            severity=severity,
            title=title,
            body=body,
            targets=targets,
            expires_at=expires_at,
        )
        record = _record(warning, ISSUER, self.clock.now())
        uow.session.add(record)
        uow.emit(warning, to=COORDINATOR, correlation_id=warning.warning_id)
        return record

    async def acknowledge_warning(
        self, uow: UnitOfWork, warning_id: str, *, note: str = ""
    ) -> WarningRecord:
        """Confirm we have read a delivered warning (once; repeating is refused)."""
        record = await self.warning(uow, warning_id)
        if record.role != RECIPIENT:
            raise StepRefused(f"{self.agency.id} issued warning {warning_id}; it cannot ack it")
        if record.acknowledged_at is not None:
            raise StepRefused(f"warning {warning_id} is already acknowledged")
        record.acknowledged_at = self.clock.now()
        record.note = note or None
        uow.session.add(record)
        uow.emit(
            WarningAcknowledged(warning_id=warning_id, note=note),
            to=COORDINATOR,
            correlation_id=warning_id,
        )
        return record

    async def retract_warning(self, uow: UnitOfWork, warning_id: str, *, reason: str) -> None:
        """Withdraw a warning we issued; the coordinator tells everyone who received it."""
        record = await self.warning(uow, warning_id)
        if record.role != ISSUER:
            raise StepRefused(f"{self.agency.id} did not issue warning {warning_id}")
        if record.retracted_at is not None:
            raise StepRefused(f"warning {warning_id} is already retracted")
        record.retracted_at = self.clock.now()
        record.note = reason
        uow.session.add(record)
        uow.emit(
            WarningRetracted(warning_id=warning_id, reason=reason),
            to=COORDINATOR,
            correlation_id=warning_id,
        )

    async def warning(self, uow: UnitOfWork, warning_id: str) -> WarningRecord:
        record = await uow.session.get(WarningRecord, warning_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} has no warning {warning_id}")
        return record

    # -- handlers -----------------------------------------------------------------------

    @handles(WarningDelivered)
    async def _on_warning_delivered(self, uow: UnitOfWork, event: Event) -> None:
        delivered = event.payload_of(WarningDelivered)
        if event.recipient != self.agency.id:
            return
        _from_coordinator(event)
        record = await uow.session.get(WarningRecord, delivered.warning_id)
        if record is None:
            record = _record(delivered.warning, RECIPIENT, self.clock.now())
            record.deliveries = 1
            uow.session.add(record)
            await self.on_warning_received(uow, record, delivered.warning)
            return
        record.deliveries += 1  # a re-delivery: the coordinator is chasing our ack
        uow.session.add(record)

    @handles(WarningRetracted)
    async def _on_warning_retracted(self, uow: UnitOfWork, event: Event) -> None:
        if event.recipient != self.agency.id:
            return
        _from_coordinator(event)
        retracted = event.payload_of(WarningRetracted)
        record = await self.warning(uow, retracted.warning_id)
        if record.retracted_at is None:
            record.retracted_at = self.clock.now()
            record.note = retracted.reason
            uow.session.add(record)

    @handles(WarningEscalated)
    async def _on_warning_escalated(self, uow: UnitOfWork, event: Event) -> None:
        if event.recipient != self.agency.id:
            return
        _from_coordinator(event)
        escalated = event.payload_of(WarningEscalated)
        record = await uow.session.get(WarningRecord, escalated.warning_id)
        if record is not None:  # the issuer; a supervisor may not hold the warning itself
            record.escalations += 1
            uow.session.add(record)
        self.log.warning(
            "warning escalated", warning_id=escalated.warning_id, laggard=escalated.agency_id
        )


def _from_coordinator(event: Event) -> None:
    if event.sender != COORDINATOR:
        raise StepRefused(f"{event.event_type} must come from the coordinator, not {event.sender}")


def _record(warning: WarningIssued, role: str, now: datetime) -> WarningRecord:
    return WarningRecord(
        warning_id=warning.warning_id,
        role=role,
        category=warning.category.value,
        severity=warning.severity.value,
        title=warning.title,
        body=warning.body,
        expires_at=warning.expires_at,
        received_at=now,
    )
