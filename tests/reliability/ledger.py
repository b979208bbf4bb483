"""Counting what every database and the stream hold after a scenario: surplus and lost.

"Sent" is what the services' outboxes created; "stored" is read back from each
consumer's own tables (coordinator timeline, referral ledgers, inboxes) and from the
event stream itself. Nothing here trusts a service's logs or its own idea of success,
and nothing trusts a unique constraint either: the timeline is counted per case and
step, the referral ledgers per case, the stream per ``Nats-Msg-Id``, so an event
applied twice under two ids, or stored twice under one, shows up as a surplus.

The load's cases name a few companies over and over (:mod:`tests.reliability.load_agency`),
so the coordinator also does cross-case work: its party index must hold every case of every
company, and each company named in enough cases must be warned about exactly once
(``repeat_infringer``, one ``warning.issued`` and its deliveries) — however its cases were
spread over the stream's partitions and whatever was killed (issue 18).

A surplus and a loss are counted apart and never offset each other: each must be 0.
"""

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import ServiceUnavailableError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.agencies import WarningCategory
from contracts.identifiers import new_ulid
from contracts.subjects import (
    COORDINATOR,
    DLQ_STREAM,
    EVENT_STREAM,
    agency_consumer,
    parse_event_subject,
    stored_filter,
)
from contracts.warnings import Severity, WarningIssued, WarningTargets
from services.coordinator.cases.parties import InfringerSightingRecord, PartyCaseRecord
from services.coordinator.cases.store import TimelineRecord
from services.coordinator.signals.rules import LinkagePolicy
from services.coordinator.warnings.routing import route_warning
from services.runtime.bus import (
    COORDINATOR_CONSUMER,
    InboxRecord,
    OutboxRecord,
    coordinator_backlog,
)
from services.runtime.identity import Settings, load_registry, server_list
from services.runtime.law import load_policy, policy_section
from services.runtime.storage import Database, database_url_for
from services.sdk import ReferralRecord
from tests.reliability.load_agency import suspect_of

__all__ = [
    "EVENTS_PER_CASE",
    "STEPS_PER_CASE",
    "Linkage",
    "Tally",
    "count_everything",
    "database_of",
    "linkage_of",
    "repeat_infringer_code",
]

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
class Linkage:
    """The coordinator's cross-case work the load calls for."""

    cases_of: dict[str, list[str]]
    """Credit code → the cases naming that company (in an infringer's role)."""
    warned: frozenset[str]
    """The companies named in enough cases to be warned about: once each."""
    fan_out: int
    """The ``warning.delivered`` the coordinator routes per repeat-infringer warning."""

    @property
    def events(self) -> int:
        """Events of the signals: each warning issued, and its deliveries."""
        return len(self.warned) * (1 + self.fan_out)


def linkage_of(settings: Settings, case_ids: Sequence[str], origin: str) -> Linkage:
    """What the coordinator must make of ``case_ids``, all opened by ``origin``, under the
    policy and registry the scenario's processes run with."""
    cases_of: dict[str, list[str]] = {}
    for number, case_id in enumerate(case_ids):
        code = suspect_of(number).credit_code
        assert code is not None
        cases_of.setdefault(code, []).append(case_id)
    policy = policy_section(load_policy(settings.policy_path), "linkage", LinkagePolicy)
    # one agency opens every case: a company is a repeat infringer from min_cases cases on
    warned = frozenset(
        code for code, cases in cases_of.items() if len(cases) >= policy.repeat_infringer.min_cases
    )
    registry = load_registry(settings.effective_registry_path)
    template = WarningIssued(  # who a repeat-infringer warning about origin's cases reaches
        warning_id=new_ulid(),
        category=WarningCategory.REPEAT_INFRINGER,
        severity=Severity.HIGH,
        title="template",
        body="template",
        targets=WarningTargets(regions=[registry.get(origin).region]),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    fan_out = len(route_warning(template, registry, issuer=COORDINATOR))
    return Linkage(cases_of, warned, fan_out)


def repeat_infringer_code(body: bytes, codes: Iterable[str]) -> str | None:
    """The company a ``warning.issued`` body warns of as a repeat infringer (its credit code
    is in the title), or None for another warning."""
    data = json.loads(body).get("data", {})
    if data.get("category") != WarningCategory.REPEAT_INFRINGER.value:
        return None
    title = str(data.get("title", ""))
    return next((code for code in codes if f"({code})" in title), "?")


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
    party_rows: int
    parties: Excess
    """The coordinator's party index (both tables) per (company, case), against one each."""
    warnings: dict[str, int]
    warned: Excess
    """Repeat-infringer warnings the coordinator issued per company, against one per
    company named in enough cases."""
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
            + self.parties.surplus
            + self.warned.surplus
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
            + self.parties.missing
            + self.warned.missing
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
            and self.parties.missing == 0
            and self.warned.missing == 0
            and not any(self.pending.values())
        )

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
            f"missing {self.referrals.missing}); party index {self.party_rows} rows (surplus "
            f"{self.parties.surplus}, missing {self.parties.missing}); repeat-infringer "
            f"warnings {sum(self.warnings.values())} for {len(self.warnings)} companies "
            f"(surplus {self.warned.surplus}, missing {self.warned.missing}); "
            f"dead letters {self.dead_letters}; "
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
    linkage = linkage_of(settings, case_ids, origin)
    expected = EVENTS_PER_CASE * cases + linkage.events
    sent_ids: set[str] = set()
    outbox_rows = republished = unsent = 0
    inbox_ids: dict[str, list[str]] = {}
    timeline: list[tuple[str, str]] = []
    received: list[str] = []
    acknowledged: list[str] = []
    parties: list[str] = []
    warnings: Counter[str] = Counter()
    for agency_id in (origin, recipient, COORDINATOR):
        database = database_of(settings, agency_id)
        try:
            async with database.transaction() as session:
                rows = (await session.exec(select(OutboxRecord))).all()
                outbox_rows += len(rows)
                sent_ids.update(row.event_id for row in rows)
                republished += sum(1 for row in rows if row.duplicate)
                unsent += sum(1 for row in rows if row.sent_at is None)
                if agency_id == COORDINATOR:
                    for row in rows:
                        if parse_event_subject(row.subject).event_type == "warning.issued":
                            code = repeat_infringer_code(row.body, linkage.cases_of)
                            if code is not None:
                                warnings[code] += 1
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
                    parties = await _party_index(session)
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
        pending: dict[str, int] = {COORDINATOR_CONSUMER: await coordinator_backlog(js)}
        for name in consumers:
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
        party_rows=len(parties),
        parties=against(
            Counter(parties),
            {
                f"{table}|{code}|{case_id}": 1
                for table in _PARTY_TABLES
                for code, named in linkage.cases_of.items()
                for case_id in named
            },
        ),
        warnings=dict(warnings),
        warned=against(warnings, dict.fromkeys(linkage.warned, 1)),
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
        stored_filter(),
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


_PARTY_TABLES = ("party", "sighting")


async def _party_index(session: AsyncSession) -> list[str]:
    """``table|credit code|case`` for every row of the coordinator's party index: the
    companies named (:class:`PartyCaseRecord`) and the infringer sightings the
    repeat-infringer signal counts (:class:`InfringerSightingRecord`)."""
    named = await session.exec(
        select(col(PartyCaseRecord.credit_code), col(PartyCaseRecord.case_id))
    )
    sighted = await session.exec(
        select(col(InfringerSightingRecord.credit_code), col(InfringerSightingRecord.case_id))
    )
    return [f"party|{code}|{case_id}" for code, case_id in named.all()] + [
        f"sighting|{code}|{case_id}" for code, case_id in sighted.all()
    ]


async def _referral_cases(
    session: AsyncSession, role: str, *, state: str | None = None
) -> list[str]:
    """The case id of every referral row this agency holds in ``role`` (one per case)."""
    query = select(col(ReferralRecord.case_id)).where(col(ReferralRecord.role) == role)
    if state is not None:
        query = query.where(col(ReferralRecord.state) == state)
    return list((await session.exec(query)).all())
