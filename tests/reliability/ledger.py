"""Counting what every database holds after a scenario: sent, stored, duplicates, lost.

"Sent" is what the services' outboxes created; "stored" is read back from each
consumer's own tables (coordinator timeline, referral ledgers, inboxes). Nothing here
trusts a service's logs or its own idea of success.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import nats
from sqlalchemy import func
from sqlmodel import col, select

from contracts.subjects import COORDINATOR, DLQ_STREAM, EVENT_STREAM, agency_consumer
from services.coordinator.store import TimelineRecord
from services.runtime.database import Database, database_url_for
from services.runtime.inbox import InboxRecord
from services.runtime.outbox import OutboxRecord
from services.runtime.referral_desk import ReferralRecord
from services.runtime.settings import Settings, server_list
from services.runtime.streams import COORDINATOR_CONSUMER

__all__ = ["Tally", "count_everything"]


@dataclass(frozen=True, slots=True)
class Tally:
    """One scenario's numbers; ``lost`` and ``duplicates`` must both be zero."""

    expected: int
    sent: int
    in_stream: int
    republished: int
    timeline: int
    timeline_distinct: int
    inbox: dict[str, int]
    referrals_received: int
    referrals_acknowledged: int
    cases: int
    unsent: int
    dead_letters: int
    pending: dict[str, int]

    @property
    def duplicates(self) -> int:
        """Copies beyond one: in the stream, or in the coordinator's timeline."""
        return (self.in_stream - self.sent) + (self.timeline - self.timeline_distinct)

    @property
    def lost(self) -> int:
        """What some database should hold and does not."""
        return (
            (self.expected - self.sent)
            + (self.expected - self.timeline_distinct)
            + (self.cases - self.referrals_received)
            + (self.cases - self.referrals_acknowledged)
            + (self.expected - self.inbox.get(COORDINATOR_CONSUMER, 0))
            + sum(self.cases - n for name, n in self.inbox.items() if name != COORDINATOR_CONSUMER)
            + self.unsent
            + self.dead_letters
        )

    @property
    def complete(self) -> bool:
        return (
            self.timeline_distinct >= self.expected
            and self.referrals_received >= self.cases
            and self.referrals_acknowledged >= self.cases
            and self.inbox.get(COORDINATOR_CONSUMER, 0) >= self.expected
            and all(n >= self.cases for c, n in self.inbox.items() if c != COORDINATOR_CONSUMER)
            and not any(self.pending.values())
        )

    def report(self, scenario: str, seconds: float) -> str:
        inbox = ", ".join(f"{name} {count}" for name, count in self.inbox.items())
        return (
            f"\n[{scenario}] sent {self.sent} (expected {self.expected}), stream "
            f"{self.in_stream}, stored in timeline {self.timeline_distinct}, inboxes: {inbox}; "
            f"referrals received {self.referrals_received}/{self.cases}, acknowledged "
            f"{self.referrals_acknowledged}/{self.cases}; dead letters {self.dead_letters}; "
            f"re-published and dropped by JetStream de-duplication {self.republished}; "
            f"duplicates {self.duplicates}, lost {self.lost}; "
            f"{seconds:.1f}s, {self.expected / seconds:.0f} events/s end to end"
        )


EVENTS_PER_CASE = 5
"""case.opened, referral.issued and referral.acknowledged from the agencies, and the
coordinator's referral.copied of both referral steps to the supervising procuratorate."""


def _database(settings: Settings, agency_id: str) -> Database:
    return Database(
        database_url_for(settings.database_url, settings.data_dir, agency_id),
        namespace=settings.database_schema_prefix + agency_id,
    )


async def count_everything(
    settings: Settings,
    nats_url: str,
    *,
    cases: int,
    origin: str,
    recipient: str,
    consumers: Sequence[str] = (),
) -> Tally:
    """Read every database and the streams; ``origin`` refers each case to ``recipient``."""
    expected = EVENTS_PER_CASE * cases
    sent = republished = unsent = 0
    inbox: dict[str, int] = {}
    for agency_id in (origin, recipient, COORDINATOR):
        database = _database(settings, agency_id)
        try:
            async with database.transaction() as session:
                rows = (await session.exec(select(OutboxRecord))).all()
                sent += len({row.event_id for row in rows})
                republished += sum(1 for row in rows if row.duplicate)
                unsent += sum(1 for row in rows if row.sent_at is None)
                consumer = (
                    COORDINATOR_CONSUMER if agency_id == COORDINATOR else agency_consumer(agency_id)
                )
                inbox[consumer] = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(InboxRecord)
                        .where(col(InboxRecord.consumer) == consumer)
                    )
                    or 0
                )
                if agency_id == COORDINATOR:
                    events = (await session.exec(select(col(TimelineRecord.event_id)))).all()
                    timeline, timeline_distinct = len(events), len(set(events))
                elif agency_id == recipient:
                    received = await _referrals(session, "recipient")
                else:
                    acknowledged = await _referrals(session, "sender", state="acknowledged")
        finally:
            await database.close()
    nc = await nats.connect(server_list(nats_url))
    try:
        js = nc.jetstream()
        in_stream = (await js.stream_info(EVENT_STREAM)).state.messages
        dead_letters = (await js.stream_info(DLQ_STREAM)).state.messages
        pending: dict[str, int] = {}
        for name in (COORDINATOR_CONSUMER, *consumers):
            info = await js.consumer_info(EVENT_STREAM, name)
            pending[name] = info.num_pending + info.num_ack_pending
    finally:
        await nc.close()
    return Tally(
        expected=expected,
        sent=sent,
        in_stream=in_stream,
        republished=republished,
        timeline=timeline,
        timeline_distinct=timeline_distinct,
        inbox=inbox,
        referrals_received=received,
        referrals_acknowledged=acknowledged,
        cases=cases,
        unsent=unsent,
        dead_letters=dead_letters,
        pending=pending,
    )


async def _referrals(session: object, role: str, *, state: str | None = None) -> int:
    query = select(func.count()).select_from(ReferralRecord).where(ReferralRecord.role == role)
    if state is not None:
        query = query.where(ReferralRecord.state == state)
    return int(await session.scalar(query) or 0)  # type: ignore[attr-defined]
