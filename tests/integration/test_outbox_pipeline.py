"""The relay pipelines a batch and still keeps the outbox's order, on a real nats-server and
both databases: every row lands once and in order; a row the stream refuses for good is set
aside without holding up the rows on either side of it; a passing fault in mid-batch leaves
no row marked that was not acked, and the rows go out once, in order, when it has passed."""

import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
import structlog
from nats.aio.client import Client
from nats.errors import TimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy
from nats.js.errors import ServiceUnavailableError
from sqlmodel import col, select

from contracts.envelope import RejectReason, new_envelope
from contracts.identifiers import new_ulid
from contracts.subjects import DLQ_STREAM, EVENT_STREAM
from services.runtime.bus import (
    OutboxRecord,
    OutboxRelay,
    SystemClock,
    put_in_outbox,
    read_dead_letters,
)
from services.runtime.identity import Settings
from services.runtime.server import EmbeddedNatsServer, free_port
from services.runtime.storage import Database
from services.sdk import provision_streams
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import to_coordinator, wait_until

pytestmark = pytest.mark.integration

SENDER = "customs-shanghai"


@pytest.fixture
async def nc(settings: Settings) -> AsyncIterator[Client]:
    connection = await nats.connect(settings.nats_url or "")
    try:
        yield connection
    finally:
        await connection.close()


async def queue(database: Database, count: int, poison: dict[int, int] | None = None) -> list[str]:
    """``count`` events in the outbox, in order; row ``i`` of ``poison`` gets a body of
    ``poison[i]`` bytes. Returns their event ids."""
    ids = []
    now = datetime.now(UTC)
    async with database.transaction() as session:
        for i in range(count):
            if poison and i in poison:
                ids.append(new_ulid())
                session.add(
                    OutboxRecord(
                        event_id=ids[-1],
                        subject=to_coordinator(SENDER, "case.opened", ids[-1]),
                        body=b"x" * poison[i],
                        created_at=now,
                    )
                )
                continue
            envelope = new_envelope(sender=SENDER, payload=_opened(), now=now, case_id=new_ulid())
            put_in_outbox(session, envelope, recipient="coordinator", now=now)
            ids.append(envelope.id)
    return ids


async def drain(relay: OutboxRelay) -> None:
    while await relay.relay_once():
        pass


async def in_stream(js: JetStreamContext) -> list[str]:
    """The ``Nats-Msg-Id`` of every message on IPBUS, in stream order."""
    info = await js.stream_info(EVENT_STREAM)
    if not info.state.messages:
        return []
    return [
        (await js.get_msg(EVENT_STREAM, seq)).headers["Nats-Msg-Id"]  # type: ignore[index]
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]


async def rows(database: Database) -> list[OutboxRecord]:
    async with database.transaction() as session:
        return list(
            (await session.exec(select(OutboxRecord).order_by(col(OutboxRecord.seq)))).all()
        )


def relay(database: Database, js: JetStreamContext) -> OutboxRelay:
    return OutboxRelay(database, js, SystemClock(), structlog.get_logger())


async def test_a_large_backlog_lands_in_outbox_order_each_row_once(
    database: Database, nc: Client
) -> None:
    ids = await queue(database, 300)
    js = nc.jetstream()

    await drain(relay(database, js))

    assert await in_stream(js) == ids
    stored = await rows(database)
    assert [row.event_id for row in stored] == ids
    assert [row.stream_seq for row in stored] == list(range(1, 301))
    assert all(row.sent_at is not None and row.duplicate is False for row in stored)


async def test_rows_refused_for_good_mid_batch_are_set_aside_and_those_around_them_go_in_order(
    database: Database, nc: Client
) -> None:
    # row 10 is over the stream's max message size (refused in its ack), row 25 over the
    # server's max payload (refused before it is sent)
    ids = await queue(database, 40, poison={10: 100 * 1024, 25: 2 * 1024 * 1024})
    js = nc.jetstream()
    config = (await js.stream_info(EVENT_STREAM)).config
    await js.update_stream(config, max_msg_size=64 * 1024)

    assert await relay(database, js).relay_once() == 40

    fine = [event_id for i, event_id in enumerate(ids) if i not in (10, 25)]
    assert await in_stream(js) == fine
    stored = {row.event_id: row for row in await rows(database)}
    assert all(row.sent_at is not None for row in stored.values())
    assert stored[ids[10]].stream_seq is None
    assert stored[ids[25]].stream_seq is None
    assert [stored[event_id].stream_seq for event_id in fine] == list(range(1, 39))
    letters = {
        letter.detail.split(":")[1].strip(): letter async for letter in read_dead_letters(js)
    }
    assert set(letters) == {"BadRequestError", "MaxPayloadError"}
    assert all(letter.reason == RejectReason.UNPUBLISHABLE for letter in letters.values())
    assert (await js.stream_info(DLQ_STREAM)).state.messages == 2


async def test_a_stream_full_mid_batch_marks_only_the_acked_rows_and_the_rest_follow_in_order(
    database: Database, nc: Client
) -> None:
    """A real passing fault at row 120 of 300: IPBUS refuses new messages once it holds 120."""
    ids = await queue(database, 300)
    js = nc.jetstream()
    config = (await js.stream_info(EVENT_STREAM)).config
    await js.update_stream(config, discard=DiscardPolicy.NEW, max_msgs=120)
    outbox_relay = OutboxRelay(database, js, SystemClock(), structlog.get_logger(), batch=300)

    with pytest.raises(ServiceUnavailableError, match="maximum messages exceeded"):
        await outbox_relay.relay_once()

    stored = await rows(database)
    assert [row.stream_seq for row in stored[:120]] == list(range(1, 121))
    assert all(row.sent_at is not None for row in stored[:120])
    assert all(row.sent_at is None and row.stream_seq is None for row in stored[120:])
    assert await in_stream(js) == ids[:120]

    await js.update_stream(config, discard=DiscardPolicy.OLD, max_msgs=-1)  # the fault passes
    await drain(outbox_relay)

    assert await in_stream(js) == ids
    assert [row.stream_seq for row in await rows(database)] == list(range(1, 301))


async def test_acks_that_never_come_leave_the_batch_unmarked_and_the_retry_adds_no_copy(
    database: Database, tmp_path: Path
) -> None:
    """The server freezes (SIGSTOP) with the batch on its socket: every publish times out,
    then it thaws and stores them all; the next round's copies are dropped as duplicates."""
    ids = await queue(database, 300)
    async with EmbeddedNatsServer(tmp_path / "nats", port=free_port()) as server:
        await provision_streams(server.url)
        connection = await nats.connect(server.url)
        try:
            js = connection.jetstream(timeout=1.0)
            outbox_relay = relay(database, js)
            os.kill(server.pid, signal.SIGSTOP)
            try:
                with pytest.raises(TimeoutError):
                    await outbox_relay.relay_once()
                assert all(row.sent_at is None for row in await rows(database))
            finally:
                os.kill(server.pid, signal.SIGCONT)

            async def all_stored() -> bool:
                return (await js.stream_info(EVENT_STREAM)).state.messages == 256

            await wait_until(all_stored, what="the frozen batch stored")
            await drain(outbox_relay)

            assert await in_stream(js) == ids
            stored = await rows(database)
            assert [row.duplicate for row in stored] == [True] * 256 + [False] * 44
            assert [row.stream_seq for row in stored] == list(range(1, 301))
        finally:
            await connection.close()
