"""The transactional outbox and its relay.

A service never publishes from a handler: it writes the outgoing event into the outbox in
the same transaction as the state change, and the relay publishes it afterwards with
``Nats-Msg-Id`` = event id, so a crash between commit and publish only delays the event
and a publish repeated after a crash is dropped by JetStream's duplicate window.
Several replicas may relay the same outbox: each publishes the oldest unsent rows in
order, so the stream keeps the outbox's order, and a row both publish is a JetStream
duplicate. No transaction stays open across a publish.

Rows are pipelined: a batch is sent in outbox order on the one connection (JetStream
stores one connection's messages in the order sent) before any ack is awaited, then the
acks are read in order. A row JetStream refuses for good (too large, rejected by the
stream) must not block the rows behind it: it is set aside on ``IPBUS_DLQ`` (consumer
``outbox``, reason ``unpublishable``) and marked sent with no stream sequence. A passing
fault (NATS down, a timeout) stops the batch at the first row it hits: the rows acked
before it are marked sent, it and the rows after it are published again next round, and
those already stored are JetStream duplicates. Only a fault that spares the rows behind
the one it hits (a replicated stream changing leader between them) lets them overtake it
in the stream; the relay logs it.
"""

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from nats.aio.client import Client
from nats.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    MaxPayloadError,
    TimeoutError,
)
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import BadRequestError
from sqlalchemy import bindparam, func, update
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import (
    CONTENT_TYPE,
    Envelope,
    RejectReason,
    encode_envelope,
    publish_subject,
)
from contracts.subjects import DLQ_STREAM, EVENT_STREAM, dlq_subject
from services.runtime.bus.clock import Clock
from services.runtime.bus.dlq import dead_letter_headers
from services.runtime.ops.logging import Logger
from services.runtime.ops.metrics import AgencyMetrics
from services.runtime.ops.periodic import PeriodicTask
from services.runtime.ops.tracing import publish_started, record_publish
from services.runtime.storage.database import Database, RuntimeTable
from services.runtime.storage.sql import pending_writes, table_of

__all__ = ["OUTBOX_CONSUMER", "OutboxRecord", "OutboxRelay", "put_in_outbox", "unsent_count"]

OUTBOX_CONSUMER = "outbox"
"""The default :data:`DLQ_CONSUMER_HEADER` of rows an outbox relay could not publish; a service's
relay dead-letters under its own consumer name instead, the only DLQ subject it may publish
on under permissions (``ipbus.dlq.agency-X.>``)."""
REFUSED_FOR_GOOD = (MaxPayloadError, BadRequestError)
LETTER_BODY_LIMIT = 512 * 1024
PIPELINE_BYTES = 1024 * 1024
"""Most bytes sent before their acks are awaited: under nats-py's 2 MiB pending buffer, so a
pipeline reaches the socket in one write and is never split around a reconnect, which could
resend its tail ahead of a lost head and so out of outbox order."""


class OutboxRecord(RuntimeTable, table=True):
    __tablename__ = "ipbus_outbox"

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=26, unique=True)
    subject: str = Field(max_length=255)
    body: bytes
    created_at: datetime
    sent_at: datetime | None = Field(default=None, index=True)
    duplicate: bool | None = None
    stream_seq: int | None = None


_OUTBOX = table_of(OutboxRecord)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.seq == bindparam("b_seq"), _OUTBOX.c.sent_at.is_(None))
    .values(
        sent_at=bindparam("b_sent_at"),
        duplicate=bindparam("b_duplicate"),
        stream_seq=bindparam("b_stream_seq"),
    )
)
"""Marks one published row sent, unless already marked; run with every row of a batch."""


def put_in_outbox(
    session: AsyncSession, envelope: Envelope, *, recipient: str, now: datetime
) -> None:
    """Queue ``envelope`` for ``recipient``; it is published once the transaction commits.

    The row is written just before commit, with every other row of the transaction in one
    INSERT (the ORM inserts a row with a generated key one statement at a time); rows keep
    the order they were queued in, so ``seq`` keeps the emit order."""
    pending_writes(session).insert(
        _OUTBOX,
        {
            "event_id": envelope.id,
            "subject": publish_subject(envelope, recipient),
            "body": encode_envelope(envelope),
            "created_at": now,
            "sent_at": None,
            "duplicate": None,
            "stream_seq": None,
        },
    )


async def unsent_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(OutboxRecord).where(col(OutboxRecord.sent_at).is_(None))
    )
    return int(count or 0)


class OutboxRelay:
    """Publishes committed outbox rows in order; wakes on :meth:`wake` or every poll."""

    def __init__(
        self,
        database: Database,
        js: JetStreamContext,
        clock: Clock,
        log: Logger,
        *,
        batch: int = 256,
        poll_seconds: float = 1.0,
        dead_letter_as: str = OUTBOX_CONSUMER,
        on_published: Callable[[int], None] | None = None,
        metrics: AgencyMetrics | None = None,
    ) -> None:
        self._database = database
        self._js = js
        self._clock = clock
        self._log = log
        self._batch = batch
        self._unsent = (  # built once: at a trickle the relay reads a row per event
            select(OutboxRecord)
            .where(col(OutboxRecord.sent_at).is_(None))
            .order_by(col(OutboxRecord.seq))
            .limit(batch)
        )
        self._dead_letter_as = dead_letter_as
        self._on_published = on_published
        self._loop = PeriodicTask(
            self._drain,
            log,
            interval_s=poll_seconds,
            name="outbox-relay",
            metrics=metrics,
        )

    @property
    def loop(self) -> PeriodicTask:
        """The relay's background loop (for readiness)."""
        return self._loop

    def wake(self) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _drain(self) -> None:
        """Publish batch after batch until the outbox is empty; a full backlog keeps beating."""
        while await self.relay_once() == self._batch:
            self._loop.beat()

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published.

        Three short steps, no transaction open across a publish (a lock held while NATS
        is slow or gone would block every other writer of the schema, and its teardown):
        read the oldest unsent rows, publish them in order, mark those published. A crash
        or NATS fault between publish and mark re-publishes them, which JetStream drops
        as duplicates (a passing fault is raised once the rows acked before it are
        marked); rows another replica marked meanwhile are left as it marked them.
        """
        async with self._database.transaction() as session:
            rows = (await session.exec(self._unsent)).all()
        published: dict[int, tuple[bool | None, int | None]] = {}
        fault = None
        for pipeline in _pipelines(rows):
            if fault := await self._publish(pipeline, published):
                break
        await self._mark_sent(published)
        if published and self._on_published is not None:
            self._on_published(len(published))  # after commit: these rows really are sent
        if fault is not None:
            raise fault
        return len(published)

    async def _publish(
        self,
        rows: Sequence[OutboxRecord],
        published: dict[int, tuple[bool | None, int | None]],
    ) -> Exception | None:
        """Send ``rows`` in order, then record their acks in order up to the first passing
        fault, which is returned; ``published`` gets the rows that are done with.

        Each row's publish is a task, and tasks first run in the order they were made:
        each puts its message on the connection before it first waits, for its ack.
        """
        started = publish_started()
        sending = [asyncio.create_task(self._send(row)) for row in rows]
        try:
            await asyncio.wait(sending)  # each publish times out on its own
        finally:
            for publish in sending:
                publish.cancel()  # only when the relay itself is cancelled meanwhile
        outcomes = [_outcome(publish) for publish in sending]  # every error read
        for index, (row, outcome) in enumerate(zip(rows, outcomes, strict=True)):
            assert row.seq is not None
            if isinstance(outcome, REFUSED_FOR_GOOD):
                try:
                    await self._set_aside(row, outcome)
                except Exception as exc:
                    return exc
                published[row.seq] = (None, None)  # stream_seq empty: not on IPBUS
            elif isinstance(outcome, Exception):
                self._check_not_overtaken(row, outcomes[index + 1 :])
                return outcome
            else:
                published[row.seq] = (bool(outcome.duplicate), outcome.seq)
                record_publish(row.subject, row.body, started, stream_seq=outcome.seq)
        return None

    async def _send(self, row: OutboxRecord) -> PubAck:
        connection: Client = self._js._nc  # the context's connection; nats-py has no getter
        if not connection.is_connected:
            # nats-py would buffer it for after a reconnect, or refuse it once its buffer is
            # full, and then take a smaller row behind it: out of outbox order
            raise ConnectionClosedError if connection.is_closed else ConnectionReconnectingError
        return await self._js.publish(
            row.subject,
            row.body,
            stream=EVENT_STREAM,
            headers={"Nats-Msg-Id": row.event_id, "Content-Type": CONTENT_TYPE},
        )

    def _check_not_overtaken(
        self, failed: OutboxRecord, after: Sequence[PubAck | Exception]
    ) -> None:
        """Say so if rows behind a failed one were stored before it, out of outbox order.

        A fault that hits one message and spares those behind it on the same connection
        (a replicated stream between two leaders) is the one case pipelining cannot keep
        in order: they are already in the stream, and the failed row follows them.
        """
        overtaking = sum(1 for ack in after if not isinstance(ack, Exception) and not ack.duplicate)
        if overtaking:
            self._log.error(
                "outbox row overtaken in the stream",
                event_id=failed.event_id,
                overtaking=overtaking,
            )

    async def _mark_sent(self, published: dict[int, tuple[bool | None, int | None]]) -> None:
        """Mark the batch sent with one UPDATE (executed once per row by the driver); a row
        another replica marked meanwhile keeps its marks (``sent_at IS NULL``)."""
        if not published:
            return
        now = self._clock.now()
        async with self._database.transaction() as session:
            connection = await session.connection()
            await connection.execute(
                _MARK_SENT,
                [
                    {"b_seq": seq, "b_sent_at": now, "b_duplicate": dup, "b_stream_seq": stream}
                    for seq, (dup, stream) in published.items()
                ],
            )

    async def _set_aside(self, row: OutboxRecord, exc: Exception) -> None:
        """Dead-letter a row JetStream will never take, so the rows behind it can go."""
        now = self._clock.now()
        kept = len(row.body) <= LETTER_BODY_LIMIT
        detail = (
            f"{self._database.namespace}: {type(exc).__name__}: {exc}; {len(row.body)} bytes"
            + ("" if kept else " (body not kept: too large for the dead letter)")
        )
        self._log.error("outbox row set aside", event_id=row.event_id, detail=detail)
        await self._js.publish(
            dlq_subject(self._dead_letter_as, RejectReason.UNPUBLISHABLE.value),
            row.body if kept else b"",
            stream=DLQ_STREAM,
            headers={
                "Nats-Msg-Id": f"{self._dead_letter_as}:outbox:{row.event_id}",
                "Content-Type": CONTENT_TYPE,
                **dead_letter_headers(
                    reason=RejectReason.UNPUBLISHABLE,
                    detail=detail,
                    consumer=self._dead_letter_as,
                    original_subject=row.subject,
                    original_seq=0,
                    now=now,
                ),
            },
        )


def _pipelines(rows: Sequence[OutboxRecord]) -> Iterator[list[OutboxRecord]]:
    """``rows`` in order, cut into runs of at most :data:`PIPELINE_BYTES` (at least one row)."""
    run: list[OutboxRecord] = []
    size = 0
    for row in rows:
        if run and size + len(row.body) > PIPELINE_BYTES:
            yield run
            run, size = [], 0
        run.append(row)
        size += len(row.body)
    if run:
        yield run


def _outcome(publish: asyncio.Task[PubAck]) -> PubAck | Exception:
    """The ack, or why there is none (a publish cancelled unanswered timed out)."""
    if publish.cancelled():
        return TimeoutError()
    try:
        return publish.result()
    except Exception as exc:
        return exc
