"""The base every ipbus service stands on: one agency's identity on the bus.

A service subclasses :class:`AgencyService`, names the event types it handles with
:func:`handles`, and writes its domain effects through a :class:`UnitOfWork`. The base
does the rest, the same way for every agency: decode and check the envelope, verify the
signature, dead-letter what breaks the contract, claim the event in the inbox, run the
handler and the outbox write in one transaction, then acknowledge — never before commit.

This is the adapter SDK; docs/adapters.md walks through adding an agency with it:

>>> from typing import ClassVar
>>> from contracts.judicial import JudgmentRendered
>>> from contracts.cases import CaseStatus, CaseStatusChanged
>>> class JudgmentWatch(AgencyService):
...     service_name: ClassVar[str] = "judgment_watch"
...
...     @handles(JudgmentRendered)
...     async def on_judgment(self, uow: UnitOfWork, event: Event) -> None:
...         uow.emit(
...             CaseStatusChanged(local_ref="W-1", status=CaseStatus.JUDGED, note="noted"),
...             to="coordinator",
...         )  # signed, in the outbox, published after commit; case id from the cause
>>> JudgmentWatch._handlers
{'judgment.rendered': 'on_judgment'}
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.agencies import Agency, AgencyKind, Registry
from contracts.base import Payload
from contracts.envelope import (
    DataClassification,
    Envelope,
    EnvelopeRejected,
    Event,
    RejectReason,
    decode_event,
    new_envelope,
    partition_key,
)
from contracts.subjects import EVENT_STREAM
from services.runtime.bus import (
    MAX_DELIVERIES_ADVISORY,
    Clock,
    ConfigurationError,
    ConsumerSpec,
    EventConsumer,
    InboxVerdict,
    OutboxRelay,
    PartitionTurn,
    PermanentError,
    RetryableError,
    agency_consumer_spec,
    check_fresh,
    claim_in_inbox,
    dead_letter,
    ensure_consumer,
    exhausted_message,
    parse_advisory,
    put_in_outbox,
    replay_of,
    stored_on_clock,
)
from services.runtime.identity import AgencyKey, server_list, sign_envelope, verify_sender
from services.runtime.law import RuleBook
from services.runtime.ops import (
    AgencyMetrics,
    IpbusMetrics,
    Logger,
    Outcome,
    PeriodicTask,
    StopFailed,
    apply_span,
    batch_span,
    command_span,
    emit_span,
    event_fields,
    trace_of,
)
from services.runtime.privacy import minimise_envelope, minimised_kinds, record_minimisations
from services.runtime.storage import Database, GroupCommit, require_schema, upgrade_schema

__all__ = [
    "AgencyService",
    "Applier",
    "HandlerDispatch",
    "ServiceContext",
    "UnitOfWork",
    "conflicting_duplicate",
    "handles",
]

RETRY_DELAY_S = 2.0
STOP_TIMEOUT_S = 20.0

ServiceT = TypeVar("ServiceT", bound="AgencyService")
DETAIL_MAX = 1000
"""Longest reason detail kept (a header value and an audit column, not a copy of the body)."""
Handler = Callable[[Any, "UnitOfWork", Event], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ServiceContext:
    """Everything a service is wired with; built once by ``bootstrap``, no globals."""

    agency: Agency
    registry: Registry
    key: AgencyKey
    database: Database
    clock: Clock
    log: Logger
    nats_url: str
    max_message_bytes: int = 256 * 1024
    evidence_max_bytes: int = 1024**3
    """The largest piece of evidence this agency attaches (settings ``evidence_max_bytes``)."""
    evidence_spool_dir: Path | None = None
    """Where the coordinator spools uploads (None: a fresh temporary directory)."""
    preferred_partitions: frozenset[int] | None = None
    """The partitions a coordinator replica reads first (``coordinator_partitions``; None: it
    prefers none and settles with the other replicas, :mod:`services.runtime.bus.turns`)."""
    outbox_poll_seconds: float = 1.0
    broker_options: dict[str, Any] = field(default_factory=dict)
    replay_window_s: float | None = 24 * 3600.0
    """None: no freshness check (a simulated business clock makes event times fictitious)."""
    clock_skew_s: float = 300.0
    policy: Mapping[str, Any] = field(default_factory=dict)
    """The policy file's tables (:mod:`services.runtime.law.policy`); each service reads its own."""
    rules: RuleBook = field(default_factory=lambda: RuleBook([]))
    """The policy file's ``[[rule]]`` tables: legal figures, dated and cited (issue 15)."""
    pseudonym_key: bytes = b""
    """Secret for the keyed pseudonyms of data sent abroad (DESIGN §6); never committed."""
    metrics: AgencyMetrics | None = None
    """Domain metrics; ``None`` gives the service a private registry nobody scrapes."""
    audit_anchor_s: float = 60.0
    """The coordinator: seconds between anchors of its audit chain (SECURITY.md)."""
    upgrade_schema: bool = True
    """Apply pending migrations at start (development); ``False`` (production): create an
    empty namespace's tables, refuse any schema older than the code, naming ``ipbus db
    upgrade``."""


class UnitOfWork:
    """One transaction: the service's writes and the events they cause, committed together."""

    def __init__(
        self, session: AsyncSession, context: ServiceContext, cause: Event | None = None
    ) -> None:
        self.session = session
        self.cause = cause
        self._context = context
        self.emitted: list[Envelope] = []
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit's effects are committed (metrics, wake-ups)."""
        self._after_commit.append(callback)

    def committed(self) -> None:
        """Called by the service after commit; never after a rollback."""
        for callback in self._after_commit:
            callback()

    @property
    def now(self) -> datetime:
        return self._context.clock.now()

    def emit(
        self,
        payload: Payload,
        *,
        to: str,
        case_id: str | None = None,
        correlation_id: str | None = None,
        classification: DataClassification | None = None,
    ) -> Envelope:
        """Sign ``payload`` as this agency and queue it for ``to`` in the outbox.

        The event carries the trace it is emitted in (the active span, else its cause's).
        """
        with emit_span(payload.event_type, self._context.agency.id, to):
            return self._emit(payload, to, case_id, correlation_id, classification)

    def _emit(
        self,
        payload: Payload,
        to: str,
        case_id: str | None,
        correlation_id: str | None,
        classification: DataClassification | None,
    ) -> Envelope:
        context = self._context
        cause = self.cause
        traceparent, tracestate = trace_of(cause)
        envelope = new_envelope(
            sender=context.agency.id,
            payload=payload,
            now=context.clock.now(),
            case_id=case_id or (cause.case_id if cause else None),
            correlation_id=correlation_id or (cause.correlation_id if cause else None),
            causation_id=cause.id if cause else None,
            classification=classification,
            traceparent=traceparent,
            tracestate=tracestate,
        )
        if to in context.registry and context.registry.get(to).kind is AgencyKind.OVERSEAS:
            if not context.pseudonym_key:
                raise ConfigurationError(
                    f"{context.agency.id} has no pseudonym key (<keys dir>/pseudonym.key): "
                    f"it cannot send to the overseas agency {to}"
                )
            envelope, minimised = minimise_envelope(envelope, context.pseudonym_key)
            record_minimisations(self.session, envelope.id, to, minimised, context.clock.now())
            if context.metrics is not None and minimised:
                kinds, metrics = minimised_kinds(minimised), context.metrics
                self.after_commit(lambda: metrics.minimised("event", kinds))
        signed = sign_envelope(envelope, context.key)
        put_in_outbox(self.session, signed, recipient=to, now=context.clock.now())
        self.emitted.append(signed)
        return signed


def handles(*payload_types: type[Payload]) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of these payload types' events.

    The method is called as ``handler(self, uow, event)`` inside the transaction that also
    records the event in the inbox; raise :class:`StepRefused` (or another
    :class:`PermanentError`) to dead-letter the event with a reason, a
    :class:`RetryableError` to have it redelivered later.

    >>> from contracts.referrals import ReferralDeclined
    >>> @handles(ReferralDeclined)
    ... async def on_declined(self, uow, event): ...
    >>> on_declined.__ipbus_handles__
    ('referral.declined',)
    """

    def mark(method: Handler) -> Handler:
        method.__ipbus_handles__ = tuple(t.event_type for t in payload_types)  # type: ignore[attr-defined]
        return method

    return mark


class Applier(Protocol):
    """The seam between a service's receive loop and its own work on the events it reads.

    The loop (the same for every service) decodes and checks each message, dead-letters
    what breaks the contract, opens one transaction per batch (one per event after a
    failure), acknowledges after commit; an applier claims the checked events in the inbox
    and applies them. :class:`HandlerDispatch` runs an agency's ``@handles`` methods.
    """

    async def apply(self, session: AsyncSession, events: list[Event]) -> list[UnitOfWork | None]:
        """Claim ``events`` in the inbox and apply the new ones in order, in ``session``'s
        transaction: a unit of work per event, None for one applied before. Raise
        (:class:`PermanentError`, :class:`RetryableError`, any bug), and nothing is applied."""
        ...

    async def refused(self, msg: Msg, reason: RejectReason, detail: str) -> None:
        """A message of this service's consumer is dead-lettered; run before it is acked."""
        ...


class HandlerDispatch:
    """The default :class:`Applier`: each new event to the service's ``@handles`` method.

    An event type the service has no handler for is recorded in the inbox, with no effect.
    """

    def __init__(self, service: "AgencyService") -> None:
        self._service = service

    async def apply(self, session: AsyncSession, events: list[Event]) -> list[UnitOfWork | None]:
        service = self._service
        durable = service.consumer.durable
        verdicts = await claim_in_inbox(session, durable, events, service.clock.now())
        fresh = [e for e, v in zip(events, verdicts, strict=True) if v is InboxVerdict.NEW]
        await service.before_batch(session, fresh)
        units: list[UnitOfWork | None] = []
        for event, verdict in zip(events, verdicts, strict=True):
            with apply_span(durable, event):
                units.append(await self._apply_one(session, event, verdict))
        return units

    async def _apply_one(
        self, session: AsyncSession, event: Event, verdict: InboxVerdict
    ) -> UnitOfWork | None:
        if verdict is InboxVerdict.CONFLICTING:
            raise conflicting_duplicate(event)
        if verdict is InboxVerdict.ALREADY_APPLIED:
            return None
        service = self._service
        uow = UnitOfWork(session, service.context, cause=event)
        name = service._handlers.get(event.event_type)
        if name is not None:
            await getattr(service, name)(uow, event)
        return uow

    async def refused(self, msg: Msg, reason: RejectReason, detail: str) -> None:
        """Nothing to add: the dead letter carries the reason."""


def conflicting_duplicate(event: Event) -> PermanentError:
    """The refusal of an event whose id the inbox holds with other content."""
    return PermanentError(
        RejectReason.CONFLICTING_DUPLICATE,
        f"event id {event.id} was already applied with different content",
    )


class AgencyService:
    """A service on the bus: reads its durable consumer, publishes through its outbox."""

    service_name: ClassVar[str]
    tables: ClassVar[tuple[MetaData, ...]] = ()
    _handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for base in reversed(cls.__mro__[1:]):  # every mixin's handlers, nearest base last
            handlers.update(vars(base).get("_handlers", {}))
        for name, member in vars(cls).items():
            for event_type in getattr(member, "__ipbus_handles__", ()):
                handlers[event_type] = name
        cls._handlers = handlers

    def __init__(self, context: ServiceContext, *, consumer: ConsumerSpec | None = None) -> None:
        """``consumer``: the durable consumer this service reads (default: its agency's own;
        the coordinator reads everything)."""
        self.context = context
        self.agency = context.agency
        self.registry = context.registry
        self.database = context.database
        self.clock = context.clock
        self.log = context.log
        self.metrics = context.metrics or IpbusMetrics(CollectorRegistry()).for_agency(
            context.agency.id, self.service_name
        )
        self.consumer = consumer or agency_consumer_spec(self.agency.id)
        self.broker = NatsBroker(
            server_list(context.nats_url),
            name=f"ipbus-{self.service_name}-{self.agency.id}",
            logger=context.log,  # a failing query handler is logged, redacted, as JSON
            log_level=logging.DEBUG,  # "Received"/"Processed" per message only when debugging
            # keep reconnecting through any NATS outage (nats-py gives up after 60 tries)
            **{"max_reconnect_attempts": -1, **context.broker_options},
        )
        self._relay: OutboxRelay | None = None
        self._consumers: list[EventConsumer] = []
        self.reading: tuple[ConsumerSpec, ...] = ()
        """The durable consumers read since :meth:`start` (:meth:`readers`)."""
        self._reader_names: frozenset[str] = frozenset()
        self.loops: list[PeriodicTask] = []
        """The service's own background loops; readiness fails when one stops beating."""
        self._started = asyncio.Event()
        self.applier: Applier = HandlerDispatch(self)
        """What applies the events read: this service's handlers, unless replaced (the
        coordinator puts its case pipeline here)."""
        self._batches: GroupCommit[Event, UnitOfWork | None] = GroupCommit(
            self.database, self._apply_in
        )
        """Batches read at once by several consumers (the coordinator's partitions) share
        SQLite's one writer in one transaction."""

    # -- what subclasses may override -------------------------------------------------

    async def before_batch(self, session: AsyncSession, events: list[Event]) -> None:
        """Hook run in a batch's transaction before its new events are applied (checks)."""

    async def on_started(self) -> None:
        """Hook run once the service consumes (background tasks such as watchers)."""

    def turn_for(self, reader: ConsumerSpec) -> Callable[[int], Awaitable[bool]] | None:
        """Asked before each fetch whether this process reads ``reader`` now (None: always).

        A consumer read in stream order is read by one replica at a time
        (:mod:`services.runtime.bus.turns`): replicas that meet on it settle which one
        reads, the other stands by and takes over when nobody reads it. (The coordinator's
        replicas are told which of its partitions each prefers.)"""
        if not reader.in_stream_order:
            return None
        return PartitionTurn(
            lambda: self.js,
            stream=EVENT_STREAM,
            durable=reader.durable,
            preferred=False,
            starts_reading=True,
            log=self.log,
        ).may_read

    async def readers(self) -> tuple[ConsumerSpec, ...]:
        """The durable consumers the service reads :attr:`consumer`'s events through: the
        one itself for an agency; the coordinator reads one per partition of the stream."""
        return (self.consumer,)

    async def on_refused(self, event: Event, refusal: PermanentError) -> None:
        """Hook run before a well-formed event is dead-lettered (e.g. to tell its sender)."""

    async def collect_metrics(self) -> None:
        """Hook run on each scrape to refresh gauges only this service can compute."""

    # -- life cycle ------------------------------------------------------------------

    def periodic(
        self, step: Callable[[], Awaitable[object]], *, interval_s: float, name: str
    ) -> PeriodicTask:
        """A background loop of this service, watched by readiness; start it in
        :meth:`on_started` and stop it in :meth:`stop`."""
        loop = PeriodicTask(step, self.log, interval_s=interval_s, name=name, metrics=self.metrics)
        self.loops.append(loop)
        return loop

    def stalled(self) -> dict[str, str]:
        """Each background loop that stopped beating, and the consumer loop if it stopped
        fetching: what it is, and why (empty while all run)."""
        loops = ([self._relay.loop] if self._relay is not None else []) + self.loops
        found = {loop.name: why for loop in loops if (why := loop.stalled()) is not None}
        for consumer in self._consumers:
            if (why := consumer.stalled()) is not None:
                found["consumer"] = why
        return found

    @property
    def js(self) -> JetStreamContext:
        return self.broker.connection.jetstream()

    async def prepare_schema(self) -> None:
        """Migrate the service's schema (development) or require it current (production)."""
        if self.context.upgrade_schema:
            await upgrade_schema(self.database, self.tables)
        else:
            await require_schema(
                self.database, self.tables, upgrade_command=f"ipbus db upgrade {self.agency.id}"
            )

    async def start(self) -> None:
        await self.prepare_schema()
        await self.broker.connect()
        self.reading = readers = await self.readers()
        for reader in readers:
            await ensure_consumer(self.js, reader)
        self._reader_names = frozenset(reader.durable for reader in readers)
        self._relay = OutboxRelay(
            self.database,
            self.js,
            self.clock,
            self.log,
            poll_seconds=self.context.outbox_poll_seconds,
            dead_letter_as=self.consumer.durable,
            on_published=self.metrics.published,
            metrics=self.metrics,
        )
        self._relay.start()
        await self.broker.start()
        self._consumers = [
            EventConsumer(
                lambda: self.js,
                stream=EVENT_STREAM,
                durable=reader.durable,
                deliver=self.receive_batch,
                log=self.log,
                in_stream_order=reader.in_stream_order,
                hold_s=(reader.backoff_s or (5.0,))[0] + 1.0,
                touch_s=(reader.backoff_s or (5.0,))[0] / 2,
                on_fetched=partial(self.metrics.consumer_fetched, reader.durable),
                turn=self.turn_for(reader),
                on_turn=partial(self.metrics.consumer_reading, reader.durable),
            )
            for reader in readers
        ]
        for consumer in self._consumers:
            await consumer.start()
        if self.agency.kind is AgencyKind.COORDINATOR:  # reads any message, writes any letter
            await self.broker.connection.subscribe(
                f"{MAX_DELIVERIES_ADVISORY}.{EVENT_STREAM}.*", cb=self._on_exhausted
            )
        await self.on_started()
        self._started.set()
        self.log.info("service started", consumer=self.consumer.durable)

    async def stop_reading(self) -> None:
        """Let each consumer finish the batch in hand (bounded), then stop fetching."""
        await asyncio.gather(*(c.stop(STOP_TIMEOUT_S) for c in self._consumers))

    async def stop(self) -> None:
        await self.stop_reading()
        relay_stuck = False
        if self._relay is not None:
            try:
                await asyncio.wait_for(self._relay.stop(), STOP_TIMEOUT_S)
            except TimeoutError:
                relay_stuck = True  # the rest still stops; then the caller is told
        try:
            # in-flight query handlers finish first; one stuck must not hang shutdown
            await asyncio.wait_for(self.broker.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            self.log.warning("broker did not stop in time; closing anyway", after_s=STOP_TIMEOUT_S)
        await self.database.close()
        if relay_stuck:
            raise StopFailed(f"the outbox relay did not stop within {STOP_TIMEOUT_S:g} s")
        self.log.info("service stopped")

    # -- writing ----------------------------------------------------------------------

    @asynccontextmanager
    async def unit_of_work(self, cause: Event | None = None) -> AsyncIterator[UnitOfWork]:
        """A transaction for an agency-side command; its events are relayed after commit."""
        with command_span(self.agency.id, cause):
            async with self.database.transaction() as session:
                uow = UnitOfWork(session, self.context, cause)
                yield uow
        uow.committed()
        if self._relay is not None:
            self._relay.wake()

    async def flush_outbox(self) -> int:
        """Publish what is committed but unsent now (tests, shutdown)."""
        if self._relay is None:
            return 0
        return await self._relay.relay_once()

    # -- reading ----------------------------------------------------------------------

    async def receive_batch(self, messages: list[Msg]) -> bool:
        """Apply fetched messages in stream order, in one transaction, then ack them.

        What breaks the contract is dead-lettered first (it changes nothing). If any event
        of the batch fails, the transaction is rolled back and the batch is applied again
        one event per transaction, so one bad event costs its neighbours nothing but time.
        Returns whether every message is settled for good (none is to be redelivered).
        """
        checked: list[tuple[Msg, Event]] = []
        for msg in messages:
            replay = replay_of(msg.subject, msg.headers)  # only the operator's subject
            if replay is not None and not replay.takes(self.consumer.durable):
                await msg.ack()  # a dead letter replayed for another consumer
                continue
            subject = replay.original_subject if replay else msg.subject
            try:
                event = self._check(subject, msg.data, stored_at=msg.metadata.timestamp)
            except EnvelopeRejected as refusal:
                await self._refuse(msg, refusal.reason, refusal.detail)
                continue
            except Exception as exc:  # the one boundary: whatever the bytes, refused, acked
                await self._refuse(msg, RejectReason.UNREADABLE, f"checks failed: {exc!r}")
                continue
            checked.append((msg, event))
        if len(checked) > 1:
            started = time.perf_counter()
            try:
                outcomes = await self._apply_all([event for _, event in checked])
            except Exception as exc:
                self.log.info("batch refused whole; applying one by one", error=repr(exc))
            else:
                self._observe_batch([msg for msg, _ in checked], started)
                for (msg, event), outcome in zip(checked, outcomes, strict=True):
                    await msg.ack()
                    self.metrics.event_received(event, outcome)
                return True
        waiting_cases: set[str] = set()
        for msg, event in checked:
            case = partition_key(event.envelope)
            if case in waiting_cases:  # an earlier event of its case will be redelivered
                self._event_log(event).info("held back behind its case's earlier event")
                self.metrics.event_received(event, "retried")
                await msg.nak(delay=RETRY_DELAY_S)
            elif not await self._receive_checked(msg, event):
                waiting_cases.add(case)
        return not waiting_cases

    async def _receive_checked(self, msg: Msg, event: Event) -> bool:
        """Apply one checked event exactly once, or dead-letter it, then ack; nak to retry.

        Returns False when it is to be redelivered: the events of its case behind it in the
        batch must then wait for it (the domain's order is per case)."""
        started = time.perf_counter()
        try:
            (outcome,) = await self._apply_all([event])
        except (EnvelopeRejected, PermanentError) as refusal:
            if isinstance(refusal, PermanentError):
                await self.on_refused(event, refusal)
            await self._refuse(msg, refusal.reason, refusal.detail, event)
            return True
        except RetryableError as exc:
            self._event_log(event).warning("retrying later", subject=msg.subject, error=str(exc))
            self.metrics.event_received(event, "retried")
            await msg.nak(delay=RETRY_DELAY_S)
            return False
        except Exception as exc:
            if msg.metadata.num_delivered >= self.consumer.max_deliver:  # its last chance
                self._event_log(event).exception("handler failed on the last delivery")
                await self._refuse(msg, RejectReason.HANDLER_ERROR, repr(exc), event)
                return True
            self._event_log(event).exception(
                "handler failed; will be redelivered", subject=msg.subject
            )
            self.metrics.event_received(event, "failed")
            await msg.nak(delay=RETRY_DELAY_S)
            return False
        self._observe_batch([msg], started)
        await msg.ack()
        self.metrics.event_received(event, outcome)
        return True

    def _observe_batch(self, messages: list[Msg], started: float) -> None:
        now = time.time()  # wall clock, like JetStream's: the service clock may be simulated
        self.metrics.batch_applied(
            len(messages),
            time.perf_counter() - started,
            [max(0.0, now - m.metadata.timestamp.timestamp()) for m in messages],
        )

    def _event_log(self, event: Event | None) -> Logger:
        """The service's logger, carrying the event's ids once it could be decoded."""
        return self.log.bind(**event_fields(event)) if event is not None else self.log

    def _check(self, subject: str, body: bytes, stored_at: Any = None) -> Event:
        if len(body) > self.context.max_message_bytes:
            raise EnvelopeRejected(
                RejectReason.OVERSIZED,
                f"{len(body)} bytes is over the limit of {self.context.max_message_bytes}",
            )
        event = decode_event(body, subject)
        if event.sender not in self.registry:
            raise EnvelopeRejected(
                RejectReason.UNKNOWN_SENDER, f"{event.sender} is not in the agency registry"
            )
        # the keys valid when it was signed, less any revoked before the stream stored it
        verify_sender(event, self.registry.get(event.sender), stored_at=stored_at)
        if stored_at is not None and self.context.replay_window_s is not None:
            check_fresh(
                event,
                stored_on_clock(stored_at, self.clock),
                window_s=self.context.replay_window_s,
                skew_s=self.context.clock_skew_s,
            )
        return event

    async def _apply_in(
        self, session: AsyncSession, events: list[Event]
    ) -> list[UnitOfWork | None]:
        return await self.applier.apply(session, events)

    async def _apply_all(self, events: list[Event]) -> list[Outcome]:
        """Apply ``events`` in order in one transaction; raise, and nothing is applied."""

        def lost_to_concurrent(attempt: int, exc: Exception) -> None:
            self.log.info(
                "transaction lost to a concurrent one; applying again",
                events=len(events),
                attempt=attempt,
                error=type(exc).__name__,
            )

        with batch_span(self.consumer.durable, events):
            units = await self._batches.write(events, on_conflict=lost_to_concurrent)
        outcomes: list[Outcome] = []
        applied: list[Event] = []
        emitted = 0
        for event, uow in zip(events, units, strict=True):
            if uow is None:
                self._event_log(event).info("already applied; acknowledging redelivery")
                outcomes.append("duplicate")
                continue
            uow.committed()
            emitted += len(uow.emitted)
            self._event_log(event).debug("applied", emitted=len(uow.emitted))
            applied.append(event)
            outcomes.append("applied")
        self._log_applied(applied, emitted)
        if emitted and self._relay is not None:
            self._relay.wake()
        return outcomes

    def _log_applied(self, applied: list[Event], emitted: int) -> None:
        """One INFO line per batch (a line per event costs a fifth of the coordinator's
        time at load); every event's ids are in it, each event's own line is at DEBUG."""
        if len(applied) == 1:
            self._event_log(applied[0]).info("applied", emitted=emitted)
        elif applied:
            self.log.info(
                "applied",
                events=len(applied),
                emitted=emitted,
                event_ids=[e.id for e in applied],
                case_ids=list(dict.fromkeys(e.case_id for e in applied)),
                trace_ids=[
                    t for t in dict.fromkeys(event_fields(e)["trace_id"] for e in applied) if t
                ],
            )

    async def _on_exhausted(self, advisory_msg: Msg) -> None:
        """A consumer of ``IPBUS`` gave up on a message: dead-letter it, never drop it."""
        advisory = parse_advisory(advisory_msg.data)
        if advisory is None or advisory.stream != EVENT_STREAM:
            return
        try:
            msg = await exhausted_message(self.broker.connection, self.js, advisory)
            if msg is None:
                return
            detail = (
                f"not acknowledged after {advisory.deliveries} deliveries to "
                f"{advisory.consumer}; JetStream stopped delivering it"
            )
            self.log.warning(
                "dead-lettered",
                subject=msg.subject,
                reason=RejectReason.MAX_DELIVERIES.value,
                consumer=advisory.consumer,
                stream_seq=advisory.stream_seq,
            )
            await dead_letter(
                self.js,
                msg,
                # a partition of the coordinator's: its letters are the coordinator's
                consumer=(
                    self.consumer.durable
                    if advisory.consumer in self._reader_names
                    else advisory.consumer
                ),
                reason=RejectReason.MAX_DELIVERIES,
                detail=detail,
                now=self.clock.now(),
            )
            if advisory.consumer in self._reader_names:
                await self.applier.refused(msg, RejectReason.MAX_DELIVERIES, detail)
            self.metrics.dead_lettered(RejectReason.MAX_DELIVERIES)
        except Exception:  # a core-NATS callback: log, the advisory will not come again
            self.log.exception("could not dead-letter an exhausted message", advisory=advisory)

    async def _refuse(
        self, msg: Msg, reason: RejectReason, detail: str, event: Event | None = None
    ) -> None:
        detail = _printable(detail)
        self._event_log(event).warning(
            "dead-lettered", subject=msg.subject, reason=reason.value, detail=detail
        )
        await dead_letter(
            self.js,
            msg,
            consumer=self.consumer.durable,
            reason=reason,
            detail=detail,
            now=self.clock.now(),
        )
        await self.applier.refused(msg, reason, detail)
        await msg.ack()
        self.metrics.dead_lettered(reason)
        self.metrics.event_received(event, "dead_lettered")


def _printable(detail: str) -> str:
    """``detail`` safe for a NATS header and a database text column: one line of printable
    characters (controls, U+0000 and lone surrogates, which may come from the refused
    input, escaped), at most :data:`DETAIL_MAX` characters."""
    if not detail.isprintable():
        detail = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in detail)
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    return detail[:DETAIL_MAX]
