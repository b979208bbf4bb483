"""The coordinator: one shared case file per case, built from every event on the bus.

Thin on purpose: load the case file, let :mod:`services.coordinator.domain` apply the
event, store the result. It also answers case queries, need-to-know.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import ClassVar

from faststream.nats import NatsBroker, NatsMessage
from nats.aio.msg import Msg
from pydantic import ValidationError
from sqlalchemy import MetaData
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event, RejectReason
from contracts.queries import CASE_QUERY, CaseQuery, CaseReply
from contracts.referral_queries import REFERRALS_QUERY, ReferralsReply
from contracts.referrals import ReferralIssued
from contracts.subjects import EVENT_STREAM, QUERY_PREFIX
from services.coordinator.audit_anchor import AnchorPublisher, ensure_anchor_stream
from services.coordinator.audit_hooks import audit_accepted, audit_query, audit_rejected
from services.coordinator.deadline_watch import DeadlineWatch
from services.coordinator.deadlines import DeadlineSettings
from services.coordinator.domain import (
    CaseFile,
    EventFacts,
    NotAParty,
    NotPermitted,
    RefusedStep,
    apply_event,
    case_id_of,
    may_see,
    needs_case,
)
from services.coordinator.monitoring import observe_event, refresh_gauges
from services.coordinator.oversight_flow import OversightFlow
from services.coordinator.party_index import linked_case_ids
from services.coordinator.referral_followup import follow_referral_step
from services.coordinator.referral_queries import answer_referrals_query
from services.coordinator.signals import LinkageSignals
from services.coordinator.store import (
    CoordinatorTable,
    append_timeline,
    case_view,
    load_case,
    preload_cases,
    save_case,
)
from services.coordinator.warnings import WarningHub
from services.runtime.bus import (
    ConsumerSpec,
    PermanentError,
    RetryableError,
    StepRefused,
    coordinator_consumer_spec,
)
from services.runtime.law import CalendarPolicy, policy_section, refuse_unpermitted
from services.sdk import (
    STOP_TIMEOUT_S,
    AgencyService,
    ServiceContext,
    UnitOfWork,
    encode_reply,
    referral_supervisor,
)

__all__ = ["CoordinatorService"]

NOT_FOUND = "case not found, or not shared with you"
QUERY_AUDIT_ATTEMPTS = 5


class CoordinatorService(WarningHub, LinkageSignals, OversightFlow, AgencyService):
    """Reads ``ipbus.v1.>``; keeps the case registry and timeline; answers queries."""

    service_name: ClassVar[str] = "coordinator"
    tables: ClassVar[tuple[MetaData, ...]] = (CoordinatorTable.metadata,)

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        self.deadline_settings = policy_section(
            context.policy, "referral_deadlines", DeadlineSettings
        )
        self.calendar = policy_section(context.policy, "calendar", CalendarPolicy).calendar()
        self.rules = context.rules
        self.deadline_watch = DeadlineWatch(
            self.database,
            self.clock,
            self.unit_of_work,
            self.log,
            calendar=self.calendar,
            interval_s=self.deadline_settings.watch_seconds,
            caught_up=self._backlog_read,
            metrics=self.metrics,
        )
        self.anchors = AnchorPublisher(
            self.database,
            lambda: self.js,
            context.key,
            self.agency.id,
            self.clock,
            self.log,
            interval_s=context.audit_anchor_s,
            metrics=self.metrics,
        )
        self.loops += [self.deadline_watch.loop, self.anchors.loop]

    def consumer_spec(self) -> ConsumerSpec:
        return coordinator_consumer_spec()

    async def on_started(self) -> None:
        await super().on_started()
        # as many replicas as the event stream: 3 on a JetStream cluster
        replicas = (await self.js.stream_info(EVENT_STREAM)).config.num_replicas or 1
        await ensure_anchor_stream(self.js, replicas)
        self.deadline_watch.start()
        self.anchors.start()

    async def stop(self) -> None:
        """Stop reading first, so the last anchor covers every row this run wrote."""
        await self.deadline_watch.stop()
        await self.anchors.stop()
        if self._consumer is not None:
            await self._consumer.stop(STOP_TIMEOUT_S)
        try:
            await asyncio.wait_for(self.anchors.publish(), STOP_TIMEOUT_S)
        except Exception as exc:  # NATS gone: the previous anchor stands
            self.log.warning("last audit anchor not published", error=repr(exc))
        await super().stop()

    async def _backlog_read(self) -> bool:
        """Whether every event in the stream so far has been applied and acknowledged."""
        info = await self.js.consumer_info(EVENT_STREAM, self.consumer.durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    async def on_unhandled(self, uow: UnitOfWork, event: Event) -> None:
        """Every event about a case goes into that case's file and timeline."""
        case_id = case_id_of(event.case_id, event.payload)
        if case_id is None:
            if needs_case(event.event_type):
                raise PermanentError(
                    RejectReason.NOT_A_PARTY,
                    f"{event.event_type} names no case, so {event.sender} is party to none",
                )
            return
        before = await load_case(uow.session, case_id)
        case = before or CaseFile(case_id=case_id)
        facts = EventFacts(
            event_id=event.id,
            event_type=event.event_type,
            sender=event.sender,
            recipient=event.recipient,
            time=event.envelope.time,
            payload=event.payload,
            supervisor=(
                referral_supervisor(
                    self.registry, event.sender, event.recipient, event.payload.kind
                )
                if isinstance(event.payload, ReferralIssued)
                else None
            ),
        )
        try:
            case, line = apply_event(case, facts)
        except NotAParty as exc:
            raise PermanentError(RejectReason.NOT_A_PARTY, str(exc)) from exc
        except NotPermitted as exc:
            raise PermanentError(RejectReason.NOT_PERMITTED, str(exc)) from exc
        except RefusedStep as exc:
            raise StepRefused(str(exc)) from exc
        await save_case(uow.session, case, uow.now, before)
        append_timeline(uow.session, case_id, line)
        await follow_referral_step(
            uow, case, event, rules=self.rules, calendar=self.calendar, metrics=self.metrics
        )
        await self.observe_linkage(uow, event, case_id)
        await self.observe_oversight(uow, event, case)

    async def before_batch(self, session: AsyncSession, events: list[Event]) -> None:
        """Refuse a sender the table does not allow; read the batch's case files at once.

        Who may send a type (DESIGN §4a) depends on the registry alone, so it is checked for
        every new event, handled or not, before anything of the batch is applied.
        """
        for event in events:
            refuse_unpermitted(self.registry, event)
        await super().before_batch(session, events)
        wanted = {case_id_of(e.case_id, e.payload) for e in events}
        await preload_cases(session, {c for c in wanted if c is not None})

    async def on_applied(self, uow: UnitOfWork, event: Event) -> None:
        """Audit the accepted event and observe it for the metrics, in its transaction."""
        await audit_accepted(uow.session, event, uow.now)
        await observe_event(uow, event, self.metrics)

    async def on_rejected(self, msg: Msg, reason: RejectReason, detail: str) -> None:
        """Audit: the refused message, chained before it is acknowledged; count who-may-say."""
        async with self.database.transaction() as session:
            await audit_rejected(
                session, msg, self.consumer.durable, reason, detail, self.clock.now()
            )
        self.metrics.refused_by_authority(reason)

    async def collect_metrics(self) -> None:
        await refresh_gauges(self.database, self.clock, self.metrics)

    def declare_extra_subscribers(self, broker: NatsBroker) -> None:
        super().declare_extra_subscribers(broker)

        @broker.subscriber(f"{QUERY_PREFIX}.*.{CASE_QUERY}", title="case queries")
        async def answer_case_query(msg: NatsMessage) -> bytes:
            raw = msg.raw_message
            requester = raw.subject.split(".")[2]
            if refusal := self.query_gate.refusal(requester, time.monotonic()):
                return CaseReply(error=refusal).model_dump_json(exclude_none=True).encode()
            reply = await self.answer_case_query(requester, raw.data, raw)
            return await encode_reply(
                self.context, self.metrics, requester=requester, query=CASE_QUERY, reply=reply
            )

        @broker.subscriber(f"{QUERY_PREFIX}.*.{REFERRALS_QUERY}", title="referral queries")
        async def answer_referrals(msg: NatsMessage) -> bytes:
            raw = msg.raw_message
            requester = raw.subject.split(".")[2]
            if refusal := self.query_gate.refusal(requester, time.monotonic()):
                return ReferralsReply(error=refusal).model_dump_json(exclude_none=True).encode()
            async for session in self._audited_answer():
                reply = await answer_referrals_query(
                    session, requester, raw.data, now=self.clock.now()
                )
                shown = len(reply.deadlines) if reply.error is None else 0
                await audit_query(
                    session,
                    raw,
                    requester=requester,
                    case_id=None,
                    answered=reply.error is None,
                    detail=f"referrals: {shown} shown"
                    + (f"; {reply.error}" if reply.error else ""),
                    now=self.clock.now(),
                )
            return await encode_reply(
                self.context, self.metrics, requester=requester, query=REFERRALS_QUERY, reply=reply
            )

    async def _audited_answer(self) -> AsyncIterator[AsyncSession]:
        """A transaction for an answer and its audit row; again if a concurrent writer (the
        event consumer) took the chain's next row first (PostgreSQL: a key conflict) or
        committed since this one read (SQLite: busy snapshot)."""
        for attempt in range(1, QUERY_AUDIT_ATTEMPTS + 1):
            try:
                async with self.database.transaction() as session:
                    yield session
                return
            except (IntegrityError, RetryableError):
                if attempt == QUERY_AUDIT_ATTEMPTS:
                    raise
                await asyncio.sleep(0.02 * attempt)

    async def answer_case_query(self, requester: str, body: bytes, msg: Msg) -> CaseReply:
        """The case, if ``requester`` is party to it; the same "not found" otherwise.

        Every answer, and every refusal, leaves an audit row: who asked about which case.
        """
        reply = CaseReply(error=NOT_FOUND)
        async for session in self._audited_answer():
            case_id, reply = await self._case_reply(session, requester, body)
            await audit_query(
                session,
                msg,
                requester=requester,
                case_id=case_id,
                answered=reply.case is not None,
                detail="case" if reply.case is not None else f"case: {reply.error}",
                now=self.clock.now(),
            )
        return reply

    async def _case_reply(
        self, session: AsyncSession, requester: str, body: bytes
    ) -> tuple[str | None, CaseReply]:
        try:
            query = CaseQuery.model_validate_json(body)
        except ValidationError as exc:
            return None, CaseReply(error=f"bad query: {exc.errors(include_url=False)[0]['msg']}")
        case = await load_case(session, query.case_id)
        if case is None or not may_see(case, requester):
            self.log.info("case query refused", requester=requester, case_id=query.case_id)
            return query.case_id, CaseReply(error=NOT_FOUND)
        view = await case_view(session, case)
        linked = [
            other
            for other in await linked_case_ids(session, case.case_id)
            if (other_case := await load_case(session, other)) and may_see(other_case, requester)
        ]
        return query.case_id, CaseReply(case=view.model_copy(update={"linked_case_ids": linked}))
