"""The stores on both real databases: what one service writes, it reads back the same.

Each test runs on SQLite and on PostgreSQL (its own schema), because the two differ
exactly where it matters: upserts, ``ON CONFLICT``, ``FOR UPDATE SKIP LOCKED``.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from sqlmodel import select

from contracts.cases import CaseOpened, CaseStatus
from contracts.envelope import decode_event, encode_envelope, new_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralState
from services.coordinator.cases.domain import CaseFile, CaseReferral, TimelineLine
from services.coordinator.cases.store import append_timeline, load_case, save_case
from services.runtime.bus import (
    FixedClock,
    InboxVerdict,
    OutboxRecord,
    OutboxRelay,
    put_in_outbox,
    record_in_inbox,
    unsent_count,
)
from services.runtime.storage import Database
from tests.fakes import FakeJetStream
from tests.integration.stored_case import case_view

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _opened(case_id: str, title: str = "Counterfeit shoes") -> CaseOpened:
    return CaseOpened(
        local_ref="L-1", title=title, ip_rights=[], parties=[], goods=[], opened_at=NOW
    )


async def test_a_case_file_reads_back_as_it_was_saved(database: Database) -> None:
    referral = CaseReferral(
        new_ulid(),
        "customs_to_enforcement",
        "customs-shanghai",
        "amr-shanghai",
        ReferralState.ACCEPTED,
        NOW,
        NOW + timedelta(hours=1),
    )
    case = CaseFile(
        case_id=new_ulid(),
        title="Counterfeit shoes",
        status=CaseStatus.INVESTIGATING,
        parties={"customs-shanghai": "SH-CUS-1", "amr-shanghai": None},
        referrals={referral.referral_id: referral},
    )
    async with database.transaction() as session:
        save_case(session, case, NOW)
    async with database.transaction() as session:
        assert await load_case(session, case.case_id) == case
        assert await load_case(session, new_ulid()) is None
    moved = CaseFile(
        case_id=case.case_id,
        title=case.title,
        status=CaseStatus.PENALIZED,
        parties={**case.parties, "amr-shanghai": "SH-AMR-9"},
        referrals=case.referrals,
    )
    async with database.transaction() as session:
        save_case(session, moved, NOW)
    async with database.transaction() as session:
        assert await load_case(session, case.case_id) == moved


async def test_the_timeline_comes_back_in_the_order_it_was_applied(database: Database) -> None:
    case = CaseFile(case_id=new_ulid(), title="t", parties={"customs-shanghai": None})
    types = ["case.opened", "goods.detained", "referral.issued", "case.closed"]
    for offset, event_type in enumerate(types):
        async with database.transaction() as session:
            save_case(session, case, NOW)
            append_timeline(
                session,
                case.case_id,
                TimelineLine(
                    new_ulid(),
                    event_type,
                    "customs-shanghai",
                    "coordinator",
                    NOW - timedelta(minutes=offset),  # clocks disagree; apply order wins
                    event_type,
                    CaseStatus.OPEN,
                ),
            )
    async with database.transaction() as session:
        view = await case_view(session, case)
    assert [entry.event_type for entry in view.timeline] == types
    assert [entry.seq for entry in view.timeline] == sorted(entry.seq for entry in view.timeline)


async def test_the_inbox_tells_new_from_repeated_from_conflicting(database: Database) -> None:
    case_id = new_ulid()
    envelope = new_envelope(
        sender="customs-shanghai", payload=_opened(case_id), now=NOW, case_id=case_id
    )
    subject = publish_subject(envelope, "coordinator")
    event = decode_event(encode_envelope(envelope), subject)
    impostor = decode_event(
        encode_envelope(envelope.model_copy(update={"data": {**envelope.data, "title": "Other"}})),
        subject,
    )
    async with database.transaction() as session:
        assert await record_in_inbox(session, "coordinator", event, NOW) is InboxVerdict.NEW
    async with database.transaction() as session:
        assert (
            await record_in_inbox(session, "coordinator", event, NOW)
            is InboxVerdict.ALREADY_APPLIED
        )
        assert (
            await record_in_inbox(session, "coordinator", impostor, NOW) is InboxVerdict.CONFLICTING
        )
        assert await record_in_inbox(session, "agency-amr-shanghai", event, NOW) is InboxVerdict.NEW


async def test_two_relays_on_one_outbox_publish_every_row_in_outbox_order(
    database: Database,
) -> None:
    ids = []
    async with database.transaction() as session:
        for _ in range(60):
            envelope = new_envelope(
                sender="coordinator", payload=_opened(new_ulid()), now=NOW, case_id=new_ulid()
            )
            put_in_outbox(session, envelope, recipient="customs-shanghai", now=NOW)
            ids.append(envelope.id)
    js = FakeJetStream(delay_s=0.001)
    log = structlog.get_logger()
    relays = [
        OutboxRelay(database, js, FixedClock(NOW), log, batch=10)  # type: ignore[arg-type]
        for _ in range(2)
    ]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.relay_once():
            pass

    await asyncio.gather(*(drain(relay) for relay in relays))
    async with database.transaction() as session:
        assert await unsent_count(session) == 0
    published = [p.headers["Nats-Msg-Id"] for p in js.published]
    assert set(published) == set(ids)
    # no row lock is held across a publish: both relays may publish a row (JetStream drops
    # the copy by its Nats-Msg-Id), but every row first reaches the stream in outbox order
    assert list(dict.fromkeys(published)) == ids


class _StalledJetStream(FakeJetStream):
    """A publish that hangs until released, as with NATS slow or gone."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        await self.release.wait()
        return await super().publish(*args, **kwargs)


async def test_a_stalled_publish_holds_no_lock_on_the_outbox(database: Database) -> None:
    """The relay publishes outside any transaction: while NATS hangs, another writer may
    change the very row being published (and teardown may drop the schema)."""
    envelope = new_envelope(
        sender="coordinator", payload=_opened(new_ulid()), now=NOW, case_id=new_ulid()
    )
    async with database.transaction() as session:
        put_in_outbox(session, envelope, recipient="customs-shanghai", now=NOW)
    js = _StalledJetStream()
    relay = OutboxRelay(database, js, FixedClock(NOW), structlog.get_logger())  # type: ignore[arg-type]
    relaying = asyncio.create_task(relay.relay_once())
    try:
        await asyncio.wait_for(js.entered.wait(), 5)

        async def touch_the_row() -> None:
            async with database.transaction() as session:
                row = (await session.exec(select(OutboxRecord))).one()
                row.created_at = NOW + timedelta(seconds=1)
                session.add(row)

        await asyncio.wait_for(touch_the_row(), 5)  # a row lock would block this
    finally:
        js.release.set()
    assert await relaying == 1
    async with database.transaction() as session:
        assert await unsent_count(session) == 0
