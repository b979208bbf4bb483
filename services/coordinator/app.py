"""The coordinator: one shared case file per case, built from every event on the bus.

Thin on purpose: load the case file, let :mod:`services.coordinator.domain` apply the
event, store the result. It also answers case queries, need-to-know.
"""

from typing import ClassVar

from faststream.nats import NatsBroker, NatsMessage
from pydantic import ValidationError
from sqlalchemy import MetaData

from contracts.envelope import Event
from contracts.queries import CASE_QUERY, CaseQuery, CaseReply
from contracts.subjects import QUERY_PREFIX
from services.coordinator.domain import (
    CaseFile,
    EventFacts,
    RefusedStep,
    apply_event,
    case_id_of,
    may_see,
)
from services.coordinator.monitoring import observe_event, refresh_gauges
from services.coordinator.store import (
    CoordinatorTable,
    append_timeline,
    case_view,
    load_case,
    save_case,
)
from services.runtime.adapter import AgencyService, UnitOfWork
from services.runtime.errors import StepRefused
from services.runtime.streams import ConsumerSpec, coordinator_consumer_spec

__all__ = ["CoordinatorService"]

NOT_FOUND = "case not found, or not shared with you"


class CoordinatorService(AgencyService):
    """Reads ``ipbus.v1.>``; keeps the case registry and timeline; answers queries."""

    service_name: ClassVar[str] = "coordinator"
    tables: ClassVar[tuple[MetaData, ...]] = (CoordinatorTable.metadata,)

    def consumer_spec(self) -> ConsumerSpec:
        return coordinator_consumer_spec()

    async def on_unhandled(self, uow: UnitOfWork, event: Event) -> None:
        """Every event about a case goes into that case's file and timeline."""
        case_id = case_id_of(event.case_id, event.payload)
        if case_id is None:
            return
        case = await load_case(uow.session, case_id) or CaseFile(case_id=case_id)
        facts = EventFacts(
            event_id=event.id,
            event_type=event.event_type,
            sender=event.sender,
            recipient=event.recipient,
            time=event.envelope.time,
            payload=event.payload,
        )
        try:
            case, line = apply_event(case, facts)
        except RefusedStep as exc:
            raise StepRefused(str(exc)) from exc
        await save_case(uow.session, case, uow.now)
        append_timeline(uow.session, case_id, line)

    async def on_applied(self, uow: UnitOfWork, event: Event) -> None:
        await observe_event(uow, event, self.metrics)

    async def collect_metrics(self) -> None:
        await refresh_gauges(self.database, self.clock, self.metrics)

    def declare_extra_subscribers(self, broker: NatsBroker) -> None:
        @broker.subscriber(f"{QUERY_PREFIX}.*.{CASE_QUERY}", title="case queries")
        async def answer_case_query(msg: NatsMessage) -> bytes:
            requester = msg.raw_message.subject.split(".")[2]
            return (
                (await self.answer_case_query(requester, msg.raw_message.data))
                .model_dump_json(exclude_none=True)
                .encode()
            )

    async def answer_case_query(self, requester: str, body: bytes) -> CaseReply:
        """The case, if ``requester`` is party to it; the same "not found" otherwise."""
        try:
            query = CaseQuery.model_validate_json(body)
        except ValidationError as exc:
            return CaseReply(error=f"bad query: {exc.errors(include_url=False)[0]['msg']}")
        async with self.database.transaction() as session:
            case = await load_case(session, query.case_id)
            if case is None or not may_see(case, requester):
                self.log.info("case query refused", requester=requester, case_id=query.case_id)
                return CaseReply(error=NOT_FOUND)
            return CaseReply(case=await case_view(session, case))
