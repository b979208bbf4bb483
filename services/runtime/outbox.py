"""The transactional outbox and its relay.

A service never publishes from a handler: it writes the outgoing event into the outbox in
the same transaction as the state change, and the relay publishes it afterwards with
``Nats-Msg-Id`` = event id, so a crash between commit and publish only delays the event
and a publish repeated after a crash is dropped by JetStream's duplicate window.
Several replicas may relay the same outbox: rows are claimed with ``SKIP LOCKED`` on
PostgreSQL, and a double publish is a JetStream duplicate anyway.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import func
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import CONTENT_TYPE, Envelope, encode_envelope
from contracts.subjects import EVENT_STREAM, event_subject
from services.runtime.clock import Clock
from services.runtime.database import Database, RuntimeTable

__all__ = ["OutboxRecord", "OutboxRelay", "put_in_outbox", "unsent_count"]


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


def put_in_outbox(
    session: AsyncSession, envelope: Envelope, *, recipient: str, now: datetime
) -> None:
    """Queue ``envelope`` for ``recipient``; it is published once the transaction commits."""
    event_type = envelope.type.removeprefix("ipbus.").rsplit(".", 1)[0]
    session.add(
        OutboxRecord(
            event_id=envelope.id,
            subject=event_subject(envelope.sender, recipient, event_type),
            body=encode_envelope(envelope),
            created_at=now,
        )
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
        log: Any,
        *,
        batch: int = 256,
        poll_seconds: float = 1.0,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self._database = database
        self._js = js
        self._clock = clock
        self._log = log
        self._batch = batch
        self._poll_seconds = poll_seconds
        self._on_published = on_published
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(
            self._run(), name=f"outbox-relay-{self._database.namespace}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()
            try:
                while await self.relay_once() == self._batch:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive NATS or database outages
                self._log.warning("outbox relay failed; retrying", error=repr(exc))
                await asyncio.sleep(self._poll_seconds)

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        async with self._database.transaction() as session:
            rows = (
                await session.exec(
                    select(OutboxRecord)
                    .where(col(OutboxRecord.sent_at).is_(None))
                    .order_by(col(OutboxRecord.seq))
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                ack = await self._js.publish(
                    row.subject,
                    row.body,
                    stream=EVENT_STREAM,
                    headers={"Nats-Msg-Id": row.event_id, "Content-Type": CONTENT_TYPE},
                )
                row.sent_at = self._clock.now()
                row.duplicate = bool(ack.duplicate)
                row.stream_seq = ack.seq
                session.add(row)
        if rows and self._on_published is not None:
            self._on_published(len(rows))
        return len(rows)
