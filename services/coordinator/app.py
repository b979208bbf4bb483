"""The coordinator: one shared case file per case, built from every event on the bus.

Thin on purpose: the service wires its concerns (``cases/``, ``deadlines/``, ``warnings/``,
``signals/``, ``oversight/``, ``audit/``, ``metrics/``), hands every event it reads to its
:class:`~services.coordinator.pipeline.CasePipeline`, runs its background loops and answers
the ``case``, ``referrals``, ``warnings``, ``evidence_chunk`` and ``evidence_put`` queries,
need-to-know, each answer audited.
"""

import asyncio
import secrets
import string
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from faststream.nats import NatsBroker, NatsMessage
from nats.aio.msg import Msg
from sqlalchemy import MetaData
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.agencies import AgencyKind
from contracts.evidence import (
    EVIDENCE_CHUNK_QUERY,
    EVIDENCE_PUT_QUERY,
    EvidenceChunkReply,
    EvidencePutReply,
)
from contracts.queries import CASE_QUERY, CaseReply
from contracts.referral_queries import REFERRALS_QUERY, ReferralsReply
from contracts.subjects import EVENT_STREAM, QUERY_PREFIX
from contracts.warning_queries import WARNINGS_QUERY, WarningsReply
from services.coordinator.audit.anchors import AnchorPublisher, ensure_anchor_stream
from services.coordinator.audit.log import audit_query
from services.coordinator.cases.case_query import NOT_FOUND, answer_case_query
from services.coordinator.credit.flow import CreditFlow
from services.coordinator.deadlines.referrals_query import answer_referrals_query
from services.coordinator.deadlines.rules import DeadlineSettings
from services.coordinator.deadlines.watcher import DeadlineWatch
from services.coordinator.evidence.intake import EvidenceIntake, parse_put_query
from services.coordinator.evidence.ledger import answer_chunk, parse_chunk_query
from services.coordinator.holders import HolderNotices
from services.coordinator.metrics.recorder import refresh_gauges
from services.coordinator.oversight.flow import OversightFlow
from services.coordinator.pipeline import CasePipeline
from services.coordinator.signals.detector import LinkageSignals
from services.coordinator.store import CoordinatorTable
from services.coordinator.warnings.hub import WarningHub
from services.runtime.bus import (
    ConsumerSpec,
    PartitionTurn,
    QueryGate,
    QueryRateLimit,
    RetryableError,
    coordinator_consumer_spec,
    coordinator_consumer_specs,
    event_partitions,
)
from services.runtime.law import policy_calendar, policy_section
from services.sdk import (
    STOP_TIMEOUT_S,
    AgencyService,
    ServiceContext,
    encode_reply,
)

__all__ = ["CoordinatorService"]

QUERY_AUDIT_ATTEMPTS = 5
QUERY_WORKERS = 8
"""Questions of one kind answered at once by one replica: a query waiting on the audit
chain's turn (a batch of events committing) does not hold up the ones behind it."""
QUERY_QUEUE = "ipbus-coordinator"
"""The replicas answer queries as one NATS queue group: each question is answered once
(and audited once), by whichever replica takes it."""


async def _undecoded(msg: NatsMessage) -> bytes:
    """A query's body as bytes: each handler parses it with its own model. FastStream's
    default decoder tries ``json.loads`` first and lets a ``RecursionError`` (a body nested
    thousands deep) escape, leaving the asker without an answer."""
    return msg.body


class CoordinatorService(AgencyService):
    """Reads ``ipbus.v1.>``; keeps the case registry and timeline; answers queries.

    Each event it reads goes through its :class:`CasePipeline`; the warning desk, the
    linkage signals and oversight are the pipeline's collaborators.
    """

    service_name: ClassVar[str] = "coordinator"
    tables: ClassVar[tuple[MetaData, ...]] = (CoordinatorTable.metadata,)

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context, consumer=coordinator_consumer_spec())
        self.replica = "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))
        """This process among the replicas: the subject token an upload it holds goes on."""
        self.deadline_settings = policy_section(
            context.policy, "referral_deadlines", DeadlineSettings
        )
        self.calendar = policy_calendar(context.policy)
        self.warnings = WarningHub(context, self.unit_of_work)
        self.pipeline = CasePipeline(
            context,
            consumer=self.consumer.durable,
            calendar=self.calendar,
            metrics=self.metrics,
            warnings=self.warnings,
            signals=LinkageSignals(context),
            oversight=OversightFlow(context),
            holders=HolderNotices(
                context.registry, context.rules, self.calendar, self.log, self.metrics
            ),
            credit=CreditFlow(context),
        )
        self.applier = self.pipeline
        self.chaser = self.periodic(
            self.warnings.chase,
            interval_s=self.warnings.policy.watch_seconds,
            name="warning-chaser",
        )
        # every query the coordinator answers (warnings, cases, referrals) passes this gate
        self.query_gate = QueryGate(
            policy_section(context.policy, "queries", QueryRateLimit), self.metrics
        )
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
        # the hub alone writes the evidence bucket: uploads are spooled here, owner only
        self.intake = EvidenceIntake(
            context.evidence_spool_dir or Path(tempfile.mkdtemp(prefix="ipbus-evidence-")),
            limit=context.evidence_max_bytes,
        )
        self._declare_queries(self.broker)

    async def on_started(self) -> None:
        self.intake.start()
        self.chaser.start()
        # as many replicas as the event stream: 3 on a JetStream cluster
        replicas = (await self.js.stream_info(EVENT_STREAM)).config.num_replicas or 1
        await ensure_anchor_stream(self.js, replicas)
        self.deadline_watch.start()
        self.anchors.start()

    async def readers(self) -> tuple[ConsumerSpec, ...]:
        """One durable consumer per partition of the stream (as many as it was provisioned
        with): every replica reads every partition, so one that dies leaves its messages to
        the others through the consumers themselves."""
        partitions = event_partitions((await self.js.stream_info(EVENT_STREAM)).config)
        return coordinator_consumer_specs(self.consumer, partitions)

    def turn_for(self, reader: ConsumerSpec) -> Callable[[int], Awaitable[bool]] | None:
        """Replicas take turns on the partitions (:mod:`services.runtime.bus.turns`): this
        one reads those it prefers, stands by on the others; preferring none, it starts on
        all and steps back where it meets another replica."""
        preferred = self.context.preferred_partitions
        partition = int(reader.durable.rsplit("-p", 1)[1])
        return PartitionTurn(
            lambda: self.js,
            stream=EVENT_STREAM,
            durable=reader.durable,
            preferred=preferred is not None and partition in preferred,
            starts_reading=preferred is None or partition in preferred,
            log=self.log,
        ).may_read

    async def stop(self) -> None:
        """Stop reading first, so the last anchor covers every row this run wrote."""
        await self.deadline_watch.stop()
        await self.anchors.stop()
        await self.stop_reading()
        try:
            await asyncio.wait_for(self.anchors.publish(), STOP_TIMEOUT_S)
        except Exception as exc:  # NATS gone: the previous anchor stands
            self.log.warning("last audit anchor not published", error=repr(exc))
        await self.chaser.stop()
        self.intake.close()
        await super().stop()

    async def _backlog_read(self) -> bool:
        """Whether every event in the stream so far has been applied and acknowledged."""
        for reader in self.reading:
            info = await self.js.consumer_info(EVENT_STREAM, reader.durable)
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    async def collect_metrics(self) -> None:
        await refresh_gauges(self.database, self.clock, self.metrics)

    def _declare_queries(self, broker: NatsBroker) -> None:
        """The queries the coordinator answers, each behind the rate gate."""

        def answers(
            query: str, title: str
        ) -> Callable[[Callable[[NatsMessage], Awaitable[bytes]]], object]:
            """A query's subscriber: the replicas' queue group, a few answers at once, the
            body undecoded (each handler parses it with its own model)."""
            return broker.subscriber(
                f"{QUERY_PREFIX}.*.{query}",
                queue=QUERY_QUEUE,
                max_workers=QUERY_WORKERS,
                decoder=_undecoded,
                title=title,
            )

        @answers(WARNINGS_QUERY, "warnings queries")
        async def answer_warnings_query(msg: NatsMessage) -> bytes:
            raw = msg.raw_message
            requester = raw.subject.split(".")[2]
            if refusal := self.query_gate.refusal(requester, time.monotonic()):
                return WarningsReply(error=refusal).model_dump_json(exclude_none=True).encode()
            reply = await self.warnings.answer(requester, raw.data)
            return await encode_reply(
                self.context, self.metrics, requester=requester, query=WARNINGS_QUERY, reply=reply
            )

        @answers(CASE_QUERY, "case queries")
        async def answer_case_query(msg: NatsMessage) -> bytes:
            raw = msg.raw_message
            requester = raw.subject.split(".")[2]
            if refusal := self.query_gate.refusal(requester, time.monotonic()):
                return CaseReply(error=refusal).model_dump_json(exclude_none=True).encode()
            reply = await self.answer_case(requester, raw.data, raw)
            return await encode_reply(
                self.context, self.metrics, requester=requester, query=CASE_QUERY, reply=reply
            )

        @answers(EVIDENCE_CHUNK_QUERY, "evidence chunk queries")
        async def answer_evidence_chunk(msg: NatsMessage) -> bytes:
            raw = msg.raw_message
            requester = raw.subject.split(".")[2]
            reply = await self.answer_evidence(requester, raw.data, raw)
            return reply.model_dump_json(exclude_none=True).encode()

        @answers(EVIDENCE_PUT_QUERY, "evidence upload queries")
        async def answer_evidence_put(msg: NatsMessage) -> bytes:
            return await self._evidence_put(msg.raw_message)

        # the rest of an upload opened here: its spool and running hash are this replica's
        # (the same EvidencePutQuery; left out of the AsyncAPI document, whose addresses do
        # not change with a process: EvidencePutReply.holder documents it)
        @broker.subscriber(
            f"{QUERY_PREFIX}.*.{EVIDENCE_PUT_QUERY}.{self.replica}",
            decoder=_undecoded,
            title="evidence upload queries held by this replica",
            include_in_schema=False,
        )
        async def answer_evidence_put_held(msg: NatsMessage) -> bytes:
            return await self._evidence_put(msg.raw_message)

        @answers(REFERRALS_QUERY, "referral queries")
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
                # SQLite: after the batch in hand, whose audit rows take the same chain
                async with self.database.write_turn(), self.database.transaction() as session:
                    yield session
                return
            except (IntegrityError, RetryableError):
                if attempt == QUERY_AUDIT_ATTEMPTS:
                    raise
                await asyncio.sleep(0.02 * attempt)

    async def answer_evidence(self, requester: str, body: bytes, msg: Msg) -> EvidenceChunkReply:
        """One chunk of an evidence object, if ``requester`` is party to its case.

        A fetch's first chunk passes the rate gate and is audited (who fetched which
        evidence); so is every refusal. The chunks after it are neither: one audit row per
        fetch, not per 128 KiB.
        """
        query = parse_chunk_query(body)
        if isinstance(query, str):
            return EvidenceChunkReply(error=query)
        first = query.index == 0
        registry = self.context.registry
        if requester in registry and registry.get(requester).kind is AgencyKind.OVERSEAS:
            # bytes cannot be minimised (DESIGN §6): evidence does not leave the country
            return EvidenceChunkReply(error="evidence is not sent abroad: it cannot be minimised")
        if first and (refusal := self.query_gate.refusal(requester, time.monotonic())):
            return EvidenceChunkReply(error=refusal)
        reply = EvidenceChunkReply(error="not answered")
        async for session in self._audited_answer():
            case_id, reply = await answer_chunk(session, self.js, requester, query)
            if first or reply.error is not None:
                await audit_query(
                    session,
                    msg,
                    requester=requester,
                    case_id=case_id,
                    answered=reply.error is None,
                    detail=f"evidence {query.evidence_id}"
                    + (f": {reply.error}" if reply.error else f" ({reply.size} bytes)"),
                    now=self.clock.now(),
                )
        return reply

    async def _evidence_put(self, raw: Msg) -> bytes:
        """A chunk of an upload, from either subject it arrives on (any replica, or this one)."""
        reply = await self.take_evidence(raw.subject.split(".")[2], raw.data, raw)
        return reply.model_dump_json(exclude_none=True).encode()

    async def take_evidence(self, requester: str, body: bytes, msg: Msg) -> EvidencePutReply:
        """One chunk of an upload by ``requester`` (only the hub writes the bucket).

        An upload's first chunk passes the rate gate; it, the stored last chunk and every
        refusal are audited (who uploaded what to which case), not the chunks between.
        """
        query = parse_put_query(body)
        if isinstance(query, str):
            return EvidencePutReply(error=query)
        first = query.index == 0
        if first and (refusal := self.query_gate.refusal(requester, time.monotonic())):
            return EvidencePutReply(index=query.index, error=refusal)
        async with self.database.transaction() as session:
            reply = await self.intake.receive(
                session, self.js, requester, query, now=time.monotonic(), at=self.clock.now()
            )
        if first or reply.stored or reply.error is not None:
            async for session in self._audited_answer():
                await audit_query(
                    session,
                    msg,
                    requester=requester,
                    case_id=query.case_id,
                    answered=reply.error is None,
                    detail=f"evidence upload {query.evidence_id} chunk {query.index}"
                    + (
                        f": {reply.error}"
                        if reply.error
                        else (f": stored {reply.size} bytes" if reply.stored else "")
                    ),
                    now=self.clock.now(),
                )
        return reply.model_copy(update={"holder": self.replica})

    async def answer_case(self, requester: str, body: bytes, msg: Msg) -> CaseReply:
        """The case, if ``requester`` is party to it; the same "not found" otherwise.

        Every answer, and every refusal, leaves an audit row: who asked about which case.
        """
        reply = CaseReply(error=NOT_FOUND)
        async for session in self._audited_answer():
            case_id, reply = await answer_case_query(session, requester, body, log=self.log)
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
