"""The inbox (exactly-once effects) and the outbox relay (publish after commit), on SQLite."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from sqlmodel import col, select

from contracts.cases import CaseClosed
from contracts.envelope import Envelope, Event, decode_event
from services.runtime.bus import (
    FixedClock,
    InboxVerdict,
    OutboxRecord,
    OutboxRelay,
    put_in_outbox,
    record_in_inbox,
    unsent_count,
)
from services.runtime.storage import Database, sqlite_url, upgrade_schema
from tests.fakes import Boom, FakeJetStream
from tests.unit.builders import AMR, CUSTOMS, PSB, envelope_for, goods_detained, wire

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
EVENT_ID = "01JABCDEFGHJKMNPQRSTVWXYZ5"
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
CONSUMER = "agency-amr-shanghai"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(sqlite_url(tmp_path / "t.sqlite"), namespace="t")
    await upgrade_schema(database)
    yield database
    await database.close()


def closed(outcome: str = "fined", event_id: str = EVENT_ID) -> Event:
    envelope = envelope_for(
        CaseClosed(local_ref="R-1", outcome=outcome), case_id=CASE_ID, event_id=event_id
    )
    return decode_event(*wire(envelope))


async def claim(db: Database, event: Event, consumer: str = CONSUMER) -> InboxVerdict:
    async with db.transaction() as session:
        return await record_in_inbox(session, consumer, event, T0)


# --- inbox ---------------------------------------------------------------------------------------


async def test_an_event_is_new_the_first_time_and_already_applied_after(db: Database) -> None:
    event = closed()

    assert await claim(db, event) is InboxVerdict.NEW
    assert await claim(db, event) is InboxVerdict.ALREADY_APPLIED
    assert await claim(db, event) is InboxVerdict.ALREADY_APPLIED


async def test_a_redelivery_with_other_whitespace_and_key_order_is_the_same_event(
    db: Database,
) -> None:
    event = closed()
    body, subject = wire(event.envelope)
    raw = json.loads(body)
    reordered = json.dumps({key: raw[key] for key in reversed(list(raw))}, indent=2)
    redelivered = decode_event(reordered.encode(), subject)

    assert await claim(db, event) is InboxVerdict.NEW
    assert await claim(db, redelivered) is InboxVerdict.ALREADY_APPLIED


async def test_a_different_event_reusing_an_id_is_conflicting(db: Database) -> None:
    assert await claim(db, closed("fined")) is InboxVerdict.NEW

    assert await claim(db, closed("acquitted")) is InboxVerdict.CONFLICTING


async def test_each_consumer_applies_an_event_once_for_itself(db: Database) -> None:
    event = closed()

    assert await claim(db, event, "agency-amr-shanghai") is InboxVerdict.NEW
    assert await claim(db, event, "coordinator") is InboxVerdict.NEW
    assert await claim(db, event, "agency-amr-shanghai") is InboxVerdict.ALREADY_APPLIED
    assert await claim(db, event, "coordinator") is InboxVerdict.ALREADY_APPLIED


async def test_an_inbox_row_from_a_failed_handler_is_rolled_back(db: Database) -> None:
    event = closed()

    async def failing_handler() -> None:
        async with db.transaction() as session:
            assert await record_in_inbox(session, CONSUMER, event, T0) is InboxVerdict.NEW
            raise Boom

    with pytest.raises(Boom):
        await failing_handler()

    assert await claim(db, event) is InboxVerdict.NEW


# --- outbox --------------------------------------------------------------------------------------


def relay(db: Database, js: FakeJetStream, clock: FixedClock, batch: int = 256) -> OutboxRelay:
    return OutboxRelay(db, js, clock, structlog.get_logger(), batch=batch)  # type: ignore[arg-type]


def outgoing(n: int) -> list[Envelope]:
    return [
        envelope_for(goods_detained(CASE_ID, quantity=10 + i), case_id=CASE_ID) for i in range(n)
    ]


async def queue(db: Database, envelopes: list[Envelope], recipient: str = AMR) -> None:
    async with db.transaction() as session:
        for envelope in envelopes:
            put_in_outbox(session, envelope, recipient=recipient, now=T0)


async def unsent(db: Database) -> int:
    async with db.transaction() as session:
        return await unsent_count(session)


async def rows(db: Database) -> list[OutboxRecord]:
    async with db.transaction() as session:
        return list(
            (await session.exec(select(OutboxRecord).order_by(col(OutboxRecord.seq)))).all()
        )


async def test_queued_events_count_as_unsent(db: Database) -> None:
    assert await unsent(db) == 0

    await queue(db, outgoing(3))

    assert await unsent(db) == 3


async def test_an_outbox_row_written_in_a_failed_transaction_is_never_sent(db: Database) -> None:
    async def failing_handler() -> None:
        async with db.transaction() as session:
            put_in_outbox(session, outgoing(1)[0], recipient=AMR, now=T0)
            raise Boom

    with pytest.raises(Boom):
        await failing_handler()

    assert await unsent(db) == 0


async def test_the_relay_publishes_in_order_with_the_event_id_as_message_id(db: Database) -> None:
    envelopes = outgoing(3)
    await queue(db, envelopes[:2], recipient=AMR)
    await queue(db, envelopes[2:], recipient=PSB)
    js = FakeJetStream()

    assert await relay(db, js, FixedClock(T0)).relay_once() == 3

    assert [p.headers["Nats-Msg-Id"] for p in js.published] == [e.id for e in envelopes]
    assert all(p.headers["Content-Type"] == "application/cloudevents+json" for p in js.published)
    assert all(p.stream == "IPBUS" for p in js.published)
    assert [p.subject for p in js.published] == [
        f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.goods.detained",
        f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.goods.detained",
        f"ipbus.v1.{CUSTOMS}.{PSB}.{CASE_ID}.goods.detained",
    ]
    first = decode_event(js.published[0].payload, js.published[0].subject)
    assert first.id == envelopes[0].id
    assert first.raw["data"]["quantity"] == 10


async def test_published_rows_are_marked_sent_with_the_acknowledgement(db: Database) -> None:
    envelopes = outgoing(2)
    await queue(db, envelopes)
    sent_at = T0 + timedelta(minutes=1)
    js = FakeJetStream(duplicates=frozenset({envelopes[1].id}))

    await relay(db, js, FixedClock(sent_at)).relay_once()

    stored = await rows(db)
    assert [row.event_id for row in stored] == [e.id for e in envelopes]
    assert [row.duplicate for row in stored] == [False, True]
    assert [row.stream_seq for row in stored] == [101, 102]
    assert [row.sent_at for row in stored] == [sent_at] * 2
    assert await unsent(db) == 0


async def test_a_second_relay_pass_publishes_nothing(db: Database) -> None:
    await queue(db, outgoing(2))
    js = FakeJetStream()
    outbox_relay = relay(db, js, FixedClock(T0))

    assert await outbox_relay.relay_once() == 2
    assert await outbox_relay.relay_once() == 0

    assert js.calls == 2


async def test_the_relay_publishes_at_most_one_batch_per_pass(db: Database) -> None:
    envelopes = outgoing(3)
    await queue(db, envelopes)
    js = FakeJetStream()
    outbox_relay = relay(db, js, FixedClock(T0), batch=2)

    assert await outbox_relay.relay_once() == 2
    assert await unsent(db) == 1
    assert await outbox_relay.relay_once() == 1

    assert [p.headers["Nats-Msg-Id"] for p in js.published] == [e.id for e in envelopes]


async def test_a_failed_publish_stops_the_batch_there_and_is_retried_with_the_rows_after_it(
    db: Database,
) -> None:
    envelopes = outgoing(3)
    await queue(db, envelopes)
    failing = FakeJetStream(fail_on_call=2)

    with pytest.raises(Boom):
        await relay(db, failing, FixedClock(T0)).relay_once()

    # all three were sent before any ack was awaited; only the row acked before the fault
    # is marked, though the third reached the stream
    assert [row.sent_at for row in await rows(db)] == [T0, None, None]
    assert [p.headers["Nats-Msg-Id"] for p in failing.published] == [
        envelopes[0].id,
        envelopes[2].id,
    ]

    # the retry re-sends the third row too, under the same Nats-Msg-Id: JetStream drops it
    retry = FakeJetStream(duplicates=frozenset({envelopes[2].id}))
    assert await relay(db, retry, FixedClock(T0)).relay_once() == 2
    assert [p.headers["Nats-Msg-Id"] for p in retry.published] == [e.id for e in envelopes[1:]]
    assert [row.duplicate for row in await rows(db)] == [False, False, True]
    assert await unsent(db) == 0
