"""The coordinator's warning desk: route, track, chase, retract, and answer ``warnings``.

Handlers stay thin: :mod:`.routing` decides who gets a warning, :mod:`.rules` when a
silent recipient is chased; this module stores the outcome and puts the events in the
outbox. The follow-up timer lives in the database (``check_at``), so a restarted
coordinator resumes it and never sends a step twice: the step and the new ``check_at``
commit together.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from pydantic import ValidationError

from contracts.base import Payload
from contracts.envelope import Event
from contracts.subjects import COORDINATOR
from contracts.warning_queries import (
    DeliveryView,
    WarningsQuery,
    WarningsReply,
    WarningView,
)
from contracts.warnings import (
    WarningAcknowledged,
    WarningDelivered,
    WarningEscalated,
    WarningIssued,
    WarningRetracted,
)
from services.coordinator.warnings.routing import route_warning
from services.coordinator.warnings.rules import (
    ChaseStep,
    WarningPolicy,
    escalation_recipients,
    next_check_at,
    next_step,
)
from services.coordinator.warnings.store import (
    DeliveryRecord,
    IssuedWarningRecord,
    deliveries_of,
    delivery_state,
    due_deliveries,
    list_warnings,
)
from services.runtime.bus import StepRefused
from services.runtime.law import policy_section
from services.sdk import ServiceContext, UnitOfWork

__all__ = ["WarningHub"]

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class WarningHub:
    """Everything about warnings addressed to the coordinator: the pipeline hands it the
    ``warning.*`` events, the chaser loop calls :meth:`chase`, the query :meth:`answer`."""

    def __init__(self, context: ServiceContext, unit_of_work: UnitOfWorkFactory) -> None:
        self.context = context
        self.registry = context.registry
        self.log = context.log
        self.policy = policy_section(context.policy, "warnings", WarningPolicy)
        self._unit_of_work = unit_of_work
        self._steps: dict[str, Callable[[UnitOfWork, Event], Awaitable[None]]] = {
            WarningIssued.event_type: self._on_warning_issued,
            WarningAcknowledged.event_type: self._on_warning_acknowledged,
            WarningRetracted.event_type: self._on_warning_retracted,
        }

    def takes(self, event_type: str) -> bool:
        """Whether events of this type are the warning desk's (not filed on a case)."""
        return event_type in self._steps

    async def take(self, uow: UnitOfWork, event: Event) -> None:
        """Apply one ``warning.*`` event in ``uow``'s transaction."""
        await self._steps[event.event_type](uow, event)

    # -- handlers -----------------------------------------------------------------------

    async def _on_warning_issued(self, uow: UnitOfWork, event: Event) -> None:
        warning = event.payload
        assert isinstance(warning, WarningIssued)
        if event.recipient != COORDINATOR:
            return
        if await uow.session.get(IssuedWarningRecord, warning.warning_id) is not None:
            raise StepRefused(f"warning {warning.warning_id} was already issued")
        now = uow.now
        record = IssuedWarningRecord(
            warning_id=warning.warning_id,
            issuer=event.sender,
            severity=warning.severity.value,
            payload=warning.model_dump_json(),
            issued_at=now,
            expires_at=warning.expires_at,
        )
        uow.session.add(record)
        if warning.expires_at <= now:
            self.log.info("warning expired on arrival; not delivered", warning_id=record.warning_id)
            return
        for match in route_warning(warning, self.registry, issuer=event.sender):
            delivery = DeliveryRecord(
                warning_id=warning.warning_id,
                agency_id=match.agency_id,
                reasons="; ".join(match.reasons),
                first_delivered_at=now,
                last_delivered_at=now,
            )
            delivery.check_at = next_check_at(delivery_state(record, delivery), self.policy)
            uow.session.add(delivery)
            self._deliver(uow, warning, match.agency_id)

    async def _on_warning_acknowledged(self, uow: UnitOfWork, event: Event) -> None:
        ack = event.payload
        assert isinstance(ack, WarningAcknowledged)
        if event.recipient != COORDINATOR:
            return
        delivery = await uow.session.get(DeliveryRecord, (ack.warning_id, event.sender))
        if delivery is None:
            raise StepRefused(f"warning {ack.warning_id} was never delivered to {event.sender}")
        if delivery.acknowledged_at is None:
            delivery.acknowledged_at = uow.now
            delivery.check_at = None
            uow.session.add(delivery)

    async def _on_warning_retracted(self, uow: UnitOfWork, event: Event) -> None:
        retraction = event.payload
        assert isinstance(retraction, WarningRetracted)
        if event.recipient != COORDINATOR:
            return
        record = await uow.session.get(IssuedWarningRecord, retraction.warning_id)
        if record is None:
            raise StepRefused(f"warning {retraction.warning_id} is not known")
        if record.issuer != event.sender:
            raise StepRefused(
                f"only {record.issuer} may retract warning {record.warning_id}, not {event.sender}"
            )
        if record.retracted_at is not None:
            raise StepRefused(f"warning {record.warning_id} is already retracted")
        now = uow.now
        record.retracted_at = now
        record.retract_reason = retraction.reason
        uow.session.add(record)
        for delivery in await deliveries_of(uow.session, record.warning_id):
            self._emit(uow, retraction, delivery.agency_id, record.warning_id)
            delivery.retraction_sent_at = now
            delivery.check_at = None
            uow.session.add(delivery)

    # -- the follow-up timer -----------------------------------------------------------

    async def chase(self) -> int:
        """Re-deliver or escalate every follow-up that is due; returns how many steps."""
        steps = 0
        async with self._unit_of_work() as uow:
            now = uow.now
            for delivery, record in await due_deliveries(uow.session, now):
                state = delivery_state(record, delivery)
                step = next_step(state, now, self.policy)
                if step is ChaseStep.REDELIVER:
                    self._deliver(uow, record.warning, delivery.agency_id)
                    delivery.deliveries += 1
                    delivery.last_delivered_at = now
                    steps += 1
                elif step is ChaseStep.ESCALATE:
                    self._escalate(uow, record, delivery)
                    delivery.escalated_at = now
                    steps += 1
                check_at = next_check_at(delivery_state(record, delivery), self.policy)
                if step is ChaseStep.NONE and check_at is not None and check_at <= now:
                    check_at = None  # expired: nothing will ever be due again
                delivery.check_at = check_at
                uow.session.add(delivery)
        return steps

    def _emit(self, uow: UnitOfWork, payload: Payload, to: str, warning_id: str) -> None:
        """Emit in ``uow``'s transaction but filed under no case: a warning's recipients
        must not become parties to a case the warning's cause happened to be about."""
        detached = UnitOfWork(uow.session, self.context)
        uow.emitted.append(detached.emit(payload, to=to, correlation_id=warning_id))

    def _deliver(self, uow: UnitOfWork, warning: WarningIssued, agency_id: str) -> None:
        delivered = WarningDelivered(warning_id=warning.warning_id, warning=warning)
        self._emit(uow, delivered, agency_id, warning.warning_id)

    def _escalate(
        self, uow: UnitOfWork, record: IssuedWarningRecord, delivery: DeliveryRecord
    ) -> None:
        escalated = WarningEscalated(
            warning_id=record.warning_id,
            agency_id=delivery.agency_id,
            deliveries=delivery.deliveries,
            first_delivered_at=delivery.first_delivered_at,
        )
        recipients = escalation_recipients(
            self.registry, issuer=record.issuer, laggard=delivery.agency_id
        )
        self.log.warning(
            "critical warning unacknowledged; escalated",
            warning_id=record.warning_id,
            laggard=delivery.agency_id,
            to=recipients,
        )
        for recipient in recipients:
            self._emit(uow, escalated, recipient, record.warning_id)

    # -- the ``warnings`` query ------------------------------------------------------------

    async def answer(self, requester: str, body: bytes) -> WarningsReply:
        """The ``warnings`` query: what ``requester`` issued or received (only its own
        delivery if received)."""
        try:
            query = WarningsQuery.model_validate_json(body or b"{}")
        except ValidationError as exc:
            return WarningsReply(error=f"bad query: {exc.errors(include_url=False)[0]['msg']}")
        now = self.context.clock.now()
        views: list[WarningView] = []
        async with self.context.database.transaction() as session:
            active_at = None if query.include_inactive else now
            for record in await list_warnings(session, active_at=active_at):
                deliveries = await deliveries_of(session, record.warning_id)
                if requester not in (COORDINATOR, record.issuer):
                    deliveries = [d for d in deliveries if d.agency_id == requester]
                    if not deliveries:
                        continue
                views.append(_view(record, _state(record, now), deliveries))
        return WarningsReply(warnings=views)


def _state(record: IssuedWarningRecord, now: datetime) -> str:
    if record.retracted_at is not None:
        return "retracted"
    return "expired" if record.expires_at <= now else "active"


def _view(record: IssuedWarningRecord, state: str, deliveries: list[DeliveryRecord]) -> WarningView:
    warning = record.warning
    return WarningView(
        warning_id=record.warning_id,
        issuer=record.issuer,
        category=warning.category,
        severity=warning.severity,
        title=warning.title,
        issued_at=record.issued_at,
        expires_at=record.expires_at,
        state=state,
        deliveries=[
            DeliveryView(
                agency_id=d.agency_id,
                reasons=d.reasons.split("; "),
                deliveries=d.deliveries,
                first_delivered_at=d.first_delivered_at,
                acknowledged_at=d.acknowledged_at,
                escalated_at=d.escalated_at,
                retraction_sent_at=d.retraction_sent_at,
            )
            for d in deliveries
        ],
    )
