"""Counting what every database and the stream hold after a scenario: surplus and lost.

"Sent" is what the services' outboxes created; "stored" is read back from each
consumer's own tables (coordinator timeline, referral ledgers, inboxes) and from the
event stream itself. Nothing here trusts a service's logs or its own idea of success,
and nothing trusts a unique constraint either: the timeline is counted per case and
step, the referral ledgers per case, the stream per ``Nats-Msg-Id``, so an event
applied twice under two ids, or stored twice under one, shows up as a surplus.

A surplus and a loss are counted apart and never offset each other: each must be 0.
"""

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import ServiceUnavailableError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.subjects import COORDINATOR, DLQ_STREAM, EVENT_STREAM, agency_consumer
from services.coordinator.cases.store import TimelineRecord
from services.runtime.bus import COORDINATOR_CONSUMER, InboxRecord, OutboxRecord
from services.runtime.identity import Settings, server_list
from services.runtime.storage import Database, database_url_for
from services.sdk import ReferralRecord

__all__ = ["EVENTS_PER_CASE", "STEPS_PER_CASE", "Tally", "count_everything", "database_of"]

STEPS_PER_CASE: Mapping[str, int] = {
    "case.opened": 1,
    "referral.issued": 1,
    "referral.acknowledged": 1,
}
"""The coordinator's timeline of one case: case.opened, referral.issued and
referral.acknowledged from the agencies. (A customs_to_enforcement referral is not
copied to a procuratorate: README, contract notes of issue 15.)"""
EVENTS_PER_CASE = sum(STEPS_PER_CASE.values())


@dataclass(frozen=True, slots=True)
class Excess:
    """One count against what it should be: ``surplus`` and ``missing`` are both >= 0."""

    surplus: int = 0
    missing: int = 0

    def __add__(self, other: "Excess") -> "Excess":
        return Excess(self.surplus + other.surplus, self.missing + other.missing)


def against(counted: Mapping[str, int], wanted: Mapping[str, int]) -> Excess:
    """Per key: copies beyond what is wanted (unwanted keys included), and copies short."""
    surplus = sum(max(0, n - wanted.get(key, 0)) for key, n in counted.items())
    missing = sum(max(0, n - counted.get(key, 0)) for key, n in wanted.items())
    return Excess(surplus, missing)


@dataclass(frozen=True, slots=True)
class Tally:
    """One scenario's numbers; ``surplus`` and ``lost`` must both be zero."""

    expected: int
    cases: int
    sent: int
    outbox_rows: int
    unsent: int
    republished: int
    in_stream: int
    stream: Excess
    """Messages per ``Nats-Msg-Id`` in the event stream, against one per outbox row."""
    timeline_rows: int
    timeline: Excess
    """Timeline rows per (case, step), against :data:`STEPS_PER_CASE` for every case."""
    inbox: dict[str, int]
    inboxes: Excess
    """Inbox rows per consumer, against the events the stream holds for it."""
    referrals_received: int
    referrals_acknowledged: int
    referrals: Excess
    """Referrals per case at the recipient (received) and at the sender (acknowledged)."""
    dead_letters: int
    pending: dict[str, int]

    @property
    def surplus(self) -> int:
        """Copies beyond one, anywhere: in the stream, the timeline, inboxes, ledgers."""
        return (
            self.stream.surplus
            + self.timeline.surplus
            + self.inboxes.surplus
            + self.referrals.surplus
            + max(0, self.sent - self.expected)
        )

    @property
    def lost(self) -> int:
        """What some database or the stream should hold and does not (each term >= 0)."""
        return (
            max(0, self.expected - self.sent)
            + self.stream.missing
            + self.timeline.missing
            + self.inboxes.missing
            + self.referrals.missing
            + self.unsent
            + self.dead_letters
        )

    @property
    def complete(self) -> bool:
        """Nothing missing and nothing pending: the scenario has drained."""
        return (
            self.sent >= self.expected
            and self.unsent == 0
            and self.stream.missing == 0
            and self.timeline.missing == 0
            and self.inboxes.missing == 0
            and self.referrals.missing == 0
            and not any(self.pending.values())
        )

    @property
    def timeline_distinct(self) -> int:
        """Steps of the expected timeline present at least once (progress while it runs)."""
        return self.expected - self.timeline.missing

    def report(self, scenario: str, seconds: float) -> str:
        inbox = ", ".join(f"{name} {count}" for name, count in self.inbox.items())
        return (
            f"\n[{scenario}] expected {self.expected} events ({self.cases} cases); outbox rows "
            f"{self.outbox_rows}, distinct sent {self.sent}, unsent {self.unsent}; stream "
            f"{self.in_stream} messages (surplus {self.stream.surplus}, missing "
            f"{self.stream.missing}); timeline {self.timeline_rows} rows (surplus "
            f"{self.timeline.surplus}, missing {self.timeline.missing}); inboxes: {inbox} "
            f"(surplus {self.inboxes.surplus}, missing {self.inboxes.missing}); referrals "
            f"received {self.referrals_received}/{self.cases}, acknowledged "
            f"{self.referrals_acknowledged}/{self.cases} (surplus {self.referrals.surplus}, "
            f"missing {self.referrals.missing}); dead letters {self.dead_letters}; "
            f"re-published and dropped by JetStream de-duplication {self.republished}; "
            f"SURPLUS {self.surplus}, LOST {self.lost}; "
            f"{seconds:.1f}s, {self.expected / seconds:.0f} events/s end to end"
        )


def database_of(settings: Settings, agency_id: str) -> Database:
    """The database of ``agency_id`` as the scenario's processes open it."""
    return Database(
        database_url_for(settings.database_url, settings.data_dir, agency_id),
        namespace=settings.database_schema_prefix + agency_id,
    )


async def count_everything(
    settings: Settings,
    nats_url: str,
    *,
    case_ids: Sequence[str],
    origin: str,
    recipient: str,
    consumers: Sequence[str] = (),
) -> Tally:
    """Read every database and the streams; ``origin`` refers each case to ``recipient``."""
    cases = len(case_ids)
    expected = EVENTS_PER_CASE * cases
    sent_ids: set[str] = set()
    outbox_rows = republished = unsent = 0
    inbox_ids: dict[str, list[str]] = {}
    timeline: list[tuple[str, str]] = []
    received: list[str] = []
    acknowledged: list[str] = []
    for agency_id in (origin, recipient, COORDINATOR):
        database = database_of(settings, agency_id)
        try:
            async with database.transaction() as session:
                rows = (await session.exec(select(OutboxRecord))).all()
                outbox_rows += len(rows)
                sent_ids.update(row.event_id for row in rows)
                republished += sum(1 for row in rows if row.duplicate)
                unsent += sum(1 for row in rows if row.sent_at is None)
                consumer = (
                    COORDINATOR_CONSUMER if agency_id == COORDINATOR else agency_consumer(agency_id)
                )
                inbox_ids[consumer] = list(
                    (
                        await session.exec(
                            select(col(InboxRecord.event_id)).where(
                                col(InboxRecord.consumer) == consumer
                            )
                        )
                    ).all()
                )
                if agency_id == COORDINATOR:
                    timeline = [
                        (case_id, event_type)
                        for case_id, event_type in (
                            await session.exec(
                                select(col(TimelineRecord.case_id), col(TimelineRecord.event_type))
                            )
                        ).all()
                    ]
                elif agency_id == recipient:
                    received = await _referral_cases(session, "recipient")
                else:
                    acknowledged = await _referral_cases(session, "sender", state="acknowledged")
        finally:
            await database.close()
    nc = await nats.connect(server_list(nats_url))
    try:
        js = nc.jetstream()
        in_stream_ids = await _message_ids(js)
        dead_letters = (await js.stream_info(DLQ_STREAM)).state.messages
        pending: dict[str, int] = {}
        for name in (COORDINATOR_CONSUMER, *consumers):
            info = await js.consumer_info(EVENT_STREAM, name)
            pending[name] = (info.num_pending or 0) + (info.num_ack_pending or 0)
    finally:
        await nc.close()
    wanted_steps = {
        f"{case_id}|{step}": n for case_id in case_ids for step, n in STEPS_PER_CASE.items()
    }
    return Tally(
        expected=expected,
        cases=cases,
        sent=len(sent_ids),
        outbox_rows=outbox_rows,
        unsent=unsent,
        republished=republished,
        in_stream=len(in_stream_ids),
        stream=against(Counter(in_stream_ids), dict.fromkeys(sent_ids, 1)),
        timeline_rows=len(timeline),
        timeline=against(Counter(f"{c}|{_step(t)}" for c, t in timeline), wanted_steps),
        inbox={name: len(ids) for name, ids in inbox_ids.items()},
        inboxes=_inboxes(inbox_ids, set(in_stream_ids), cases),
        referrals_received=len(received),
        referrals_acknowledged=len(acknowledged),
        referrals=against(Counter(received), dict.fromkeys(case_ids, 1))
        + against(Counter(acknowledged), dict.fromkeys(case_ids, 1)),
        dead_letters=dead_letters,
        pending=pending,
    )


def _inboxes(inbox_ids: Mapping[str, list[str]], in_stream: set[str], cases: int) -> Excess:
    """The coordinator's inbox holds each event of the stream once; each agency's inbox one
    event per case (the recipient the referral, the origin its acknowledgement)."""
    excess = Excess()
    for consumer, ids in inbox_ids.items():
        counted = Counter(ids)
        if consumer == COORDINATOR_CONSUMER:
            excess += against(counted, dict.fromkeys(in_stream, 1))
        else:
            excess += Excess(
                sum(n - 1 for n in counted.values()) + max(0, len(counted) - cases),
                max(0, cases - len(counted)),
            )
    return excess


def _step(event_type: str) -> str:
    """``ipbus.referral.issued.v1`` (or ``referral.issued``) → ``referral.issued``."""
    name = event_type.removeprefix("ipbus.")
    head, _, tail = name.rpartition(".")
    return head if tail.startswith("v") and tail[1:].isdigit() else name


async def _message_ids(js: JetStreamContext, *, attempts: int = 6) -> list[str]:
    """Every message's ``Nats-Msg-Id`` in the event stream, read with headers only.

    Read again from the start while the stream cannot serve a new consumer yet (a cluster
    electing leaders after a node was killed answers 503 for a while); never a partial list.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await _read_message_ids(js)
        except (ServiceUnavailableError, NatsTimeoutError, TimeoutError):
            if attempt == attempts:
                raise
            await asyncio.sleep(2.0 * attempt)
    raise AssertionError("unreachable")


async def _read_message_ids(js: JetStreamContext) -> list[str]:
    total = (await js.stream_info(EVENT_STREAM)).state.messages
    subscription = await js.pull_subscribe(
        "ipbus.v1.>",
        stream=EVENT_STREAM,
        config=ConsumerConfig(
            headers_only=True,
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=30.0,
        ),
    )
    ids: list[str] = []
    try:
        while len(ids) < total:
            for msg in await subscription.fetch(1000, timeout=5):
                ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
    finally:
        await subscription.unsubscribe()
    return ids


async def _referral_cases(
    session: AsyncSession, role: str, *, state: str | None = None
) -> list[str]:
    """The case id of every referral row this agency holds in ``role`` (one per case)."""
    query = select(col(ReferralRecord.case_id)).where(col(ReferralRecord.role) == role)
    if state is not None:
        query = query.where(col(ReferralRecord.state) == state)
    return list((await session.exec(query)).all())
