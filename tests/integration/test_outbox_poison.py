"""A row JetStream will never take does not block the outbox: it is set aside on
IPBUS_DLQ with its reason, and the rows behind it are published — on the real server."""

from datetime import UTC, datetime

import nats
import pytest
import structlog
from sqlmodel import select

from contracts.envelope import RejectReason
from contracts.identifiers import new_ulid
from contracts.subjects import DLQ_STREAM, EVENT_STREAM
from services.runtime.bus import (
    OutboxRecord,
    OutboxRelay,
    SystemClock,
    put_in_outbox,
    read_dead_letters,
    unsent_count,
)
from services.runtime.identity import Settings, prepare_registry
from services.runtime.storage import Database, database_url_for, upgrade_schema
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import signed, to_coordinator

pytestmark = pytest.mark.integration


async def test_an_unpublishable_row_is_set_aside_and_the_rows_behind_it_go(
    settings: Settings,
) -> None:
    database = Database(
        database_url_for(settings.database_url, settings.data_dir, "customs-shanghai"),
        namespace=settings.database_schema_prefix + "customs-shanghai",
    )
    await upgrade_schema(database)
    prepare_registry(settings.registry_path, settings.keys_dir, settings.effective_registry_path)
    before, after = (
        signed(settings, "customs-shanghai", _opened(), case_id=new_ulid()) for _ in range(2)
    )
    poison_id = new_ulid()
    poison_subject = to_coordinator("customs-shanghai", "case.opened", poison_id)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        put_in_outbox(session, before, recipient="coordinator", now=now)
        session.add(
            OutboxRecord(
                event_id=poison_id,
                subject=poison_subject,
                body=b"x" * (2 * 1024 * 1024),  # over the server's max_payload
                created_at=now,
            )
        )
        put_in_outbox(session, after, recipient="coordinator", now=now)
    nc = await nats.connect(settings.nats_url or "")
    try:
        js = nc.jetstream()
        relay = OutboxRelay(database, js, SystemClock(), structlog.get_logger())
        assert await relay.relay_once() == 3
        async with database.transaction() as session:
            assert await unsent_count(session) == 0
            rows = {row.event_id: row for row in (await session.exec(select(OutboxRecord))).all()}
        assert rows[poison_id].stream_seq is None
        assert rows[before.id].stream_seq is not None
        assert rows[after.id].stream_seq is not None
        assert (await js.stream_info(EVENT_STREAM)).state.messages == 2
        (letter,) = [letter async for letter in read_dead_letters(js)]
        assert letter.reason == RejectReason.UNPUBLISHABLE
        assert letter.consumer == "outbox"
        assert "MaxPayloadError" in letter.detail
        assert letter.original_subject == poison_subject  # as published: never stored
        assert (await js.stream_info(DLQ_STREAM)).state.messages == 1
    finally:
        await nc.close()
        await database.close()
