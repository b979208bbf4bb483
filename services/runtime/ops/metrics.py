"""Domain metrics, ``ipbus_*``: what an operator of the bus needs beyond FastStream's own.

One :class:`IpbusMetrics` per process, on a ``CollectorRegistry`` the caller owns (never
the global default, so tests and several buses in one process never collide). Each service
gets an :class:`AgencyMetrics` bound to its agency and calls its verbs.

Label cardinality is bounded on purpose: agencies come from the registry, kinds, states,
severities and reasons from closed enums, ``outcome`` from :data:`OUTCOMES`. No case,
event, referral or warning id is ever a label.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.envelope import Event, RejectReason

__all__ = [
    "AUTHORITY_REASONS",
    "OUTCOMES",
    "AgencyMetrics",
    "IpbusMetrics",
    "Outcome",
    "metric_names",
]

Outcome = Literal["applied", "duplicate", "dead_lettered", "retried", "failed"]
OUTCOMES: Final[tuple[Outcome, ...]] = (
    "applied",
    "duplicate",
    "dead_lettered",
    "retried",
    "failed",
)

AUTHORITY_REASONS: Final[tuple[RejectReason, ...]] = (
    RejectReason.NOT_A_PARTY,
    RejectReason.NOT_PERMITTED,
)
"""Reasons an authenticated sender is refused for what it said, not how (DESIGN §4a)."""

# Seconds to an answer: minutes to weeks (law gives days for most steps).
DEADLINE_BUCKETS: Final = (1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400)


class IpbusMetrics:
    """Every ``ipbus_*`` metric family, registered once on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.events_received = Counter(
            "ipbus_events_received_total",
            "Deliveries a service handled, by event type and outcome",
            ["agency", "event_type", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "ipbus_dead_letters_total",
            "Messages a service refused and stored on IPBUS_DLQ, by reason",
            ["agency", "reason"],
            registry=r,
        )
        self.events_published = Counter(
            "ipbus_events_published_total",
            "Events the outbox relay published to JetStream",
            ["agency"],
            registry=r,
        )
        self.minimised = Counter(
            "ipbus_minimised_total",
            "Personal data removed or pseudonymised from what was sent abroad (DESIGN §6), "
            "by channel (event, reply) and kind (person, id, phone, email, passport, address)",
            ["agency", "channel", "kind"],
            registry=r,
        )
        self.open_mode = Gauge(
            "ipbus_open_mode",
            "1 while this process's services connect to NATS without credentials "
            "(development open mode: anyone on that server may act as anyone)",
            registry=r,
        )
        self.queries_refused = Counter(
            "ipbus_queries_refused_total",
            "Queries the coordinator refused to answer, by requester and reason (rate_limited)",
            ["agency", "requester", "reason"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "ipbus_outbox_backlog",
            "Committed events not yet published (outbox rows without sent_at)",
            ["agency"],
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "ipbus_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unpublished outbox row (0 when the outbox is empty)",
            ["agency"],
            registry=r,
        )
        self.consumer_pending = Gauge(
            "ipbus_consumer_pending_messages",
            "Messages on IPBUS not yet delivered to the service's durable consumer",
            ["agency", "consumer"],
            registry=r,
        )
        self.consumer_ack_pending = Gauge(
            "ipbus_consumer_ack_pending_messages",
            "Messages delivered to the consumer but not yet acknowledged",
            ["agency", "consumer"],
            registry=r,
        )
        self.consumer_redelivered = Gauge(
            "ipbus_consumer_redelivered_messages",
            "Messages currently being redelivered to the consumer",
            ["agency", "consumer"],
            registry=r,
        )
        self.consumer_reading = Gauge(
            "ipbus_consumer_reading",
            "1 while this process reads the consumer, 0 while it stands by because another "
            "replica reads it (one reader at a time on a consumer read in stream order)",
            ["agency", "consumer"],
            registry=r,
        )
        self.service_ready = Gauge(
            "ipbus_service_ready",
            "1 when the service is ready (NATS connected, database reachable, consumer bound)",
            ["agency", "service"],
            registry=r,
        )
        self.unauthorised_events = Counter(
            "ipbus_unauthorised_events_total",
            "Signed events the coordinator refused because the sender may not say them "
            "(not_a_party, not_permitted)",
            ["reason"],
            registry=r,
        )
        for reason in AUTHORITY_REASONS:
            self.unauthorised_events.labels(reason.value)
        self.referrals_issued = Counter(
            "ipbus_referrals_issued_total",
            "Referrals the coordinator saw issued, by kind",
            ["kind"],
            registry=r,
        )
        self.referrals = Gauge(
            "ipbus_referrals",
            "Referrals in the coordinator's case files, by kind and current state",
            ["kind", "state"],
            registry=r,
        )
        self.referrals_overdue = Gauge(
            "ipbus_referrals_overdue",
            "Referrals declared overdue (referral.overdue) that have not moved on since",
            ["kind", "stage"],
            registry=r,
        )
        self.referrals_overdue_declared = Counter(
            "ipbus_referrals_overdue_declared_total",
            "referral.overdue events the coordinator saw, by kind and stage",
            ["kind", "stage"],
            registry=r,
        )
        self.calendar_not_covered = Counter(
            "ipbus_calendar_not_covered_total",
            "Deadlines refused because their days fall outside the business calendar's years",
            ["agency", "clock"],
            registry=r,
        )
        self.time_to_acknowledge = Histogram(
            "ipbus_referral_time_to_acknowledge_seconds",
            "From referral.issued to referral.acknowledged (event times)",
            ["kind"],
            buckets=DEADLINE_BUCKETS,
            registry=r,
        )
        self.time_to_decide = Histogram(
            "ipbus_referral_time_to_decide_seconds",
            "From referral.issued to referral.accepted or referral.declined (event times)",
            ["kind", "decision"],
            buckets=DEADLINE_BUCKETS,
            registry=r,
        )
        self.holder_notices = Counter(
            "ipbus_holder_notices_total",
            "Customs' notices to rights holders, by step (notified, applied, declined, lapsed)",
            ["outcome"],
            registry=r,
        )
        self.warnings_issued = Counter(
            "ipbus_warnings_issued_total", "Warnings raised, by severity", ["severity"], registry=r
        )
        self.evidence_received = Counter(
            "ipbus_evidence_received_total",
            "Evidence receipts (a recipient's check of the bytes against the signed digest), "
            "by outcome: verified or refused",
            ["outcome"],
            registry=r,
        )
        self.warnings_delivered = Counter(
            "ipbus_warnings_delivered_total",
            "Warning deliveries to matched agencies, by severity",
            ["severity"],
            registry=r,
        )
        self.warnings_acknowledged = Counter(
            "ipbus_warnings_acknowledged_total",
            "Warning deliveries acknowledged by their recipient, by severity",
            ["severity"],
            registry=r,
        )
        self.warnings_unacknowledged = Gauge(
            "ipbus_warnings_unacknowledged",
            "Delivered warnings not yet acknowledged by their recipient, by severity",
            ["severity"],
            registry=r,
        )
        self.warnings_unacknowledged_oldest_age = Gauge(
            "ipbus_warnings_unacknowledged_oldest_age_seconds",
            "Age of the oldest unacknowledged warning delivery, by severity (0 when none)",
            ["severity"],
            registry=r,
        )
        self.batch_events = Histogram(
            "ipbus_batch_events",
            "Events per batch a service applied in one transaction",
            ["agency"],
            buckets=(1, 2, 5, 10, 20, 50, 100, 200),
            registry=r,
        )
        self.batch_seconds = Histogram(
            "ipbus_batch_apply_seconds",
            "Time to apply one batch, inbox, handlers and commit included",
            ["agency"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.event_delay = Histogram(
            "ipbus_event_delay_seconds",
            "From JetStream storing an event to the service committing its effects",
            ["agency"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.loop_heartbeat = Gauge(
            "ipbus_loop_heartbeat_timestamp_seconds",
            "Unix time a background loop (outbox relay, deadline watch, ...) last completed "
            "a round; readiness fails after three intervals without one",
            ["agency", "loop"],
            registry=r,
        )
        self.loop_interval = Gauge(
            "ipbus_loop_interval_seconds",
            "Seconds between a background loop's rounds (to judge its heartbeat by)",
            ["agency", "loop"],
            registry=r,
        )
        self.loop_failures = Counter(
            "ipbus_loop_failures_total",
            "Background loop rounds that failed (logged, retried next round)",
            ["agency", "loop"],
            registry=r,
        )
        self.consumer_last_fetch = Gauge(
            "ipbus_consumer_last_fetch_timestamp_seconds",
            "Unix time the service's consumer loop last fetched from (or delivered a batch of) "
            "its durable consumer; readiness fails when it is older than the fetch wait + margin",
            ["agency", "consumer"],
            registry=r,
        )
        self.audit_chain_length = Gauge(
            "ipbus_audit_chain_length",
            "Entries in the coordinator's hash-chained audit log (refreshed on each scrape)",
            ["agency"],
            registry=r,
        )

    def for_agency(self, agency: str, service: str = "") -> "AgencyMetrics":
        """The agency's verbs; its counters start at 0 so the first increase is seen."""
        for reason in RejectReason:
            self.dead_letters.labels(agency, reason.value)
        self.events_published.labels(agency)
        return AgencyMetrics(self, agency, service)


@dataclass(frozen=True, slots=True)
class AgencyMetrics:
    """The verbs one service calls; its agency is the only per-service label."""

    families: IpbusMetrics
    agency: str
    service: str = ""

    # -- every service ------------------------------------------------------------------

    def event_received(self, event: Event | None, outcome: Outcome) -> None:
        """One delivery handled; ``event`` is ``None`` when it could not be decoded."""
        event_type = event.event_type if event is not None else "unknown"
        self.families.events_received.labels(self.agency, event_type, outcome).inc()

    def dead_lettered(self, reason: RejectReason) -> None:
        self.families.dead_letters.labels(self.agency, reason.value).inc()

    def query_refused(self, requester: str, reason: str) -> None:
        self.families.queries_refused.labels(self.agency, requester, reason).inc()

    def batch_applied(self, events: int, seconds: float, delays_s: list[float]) -> None:
        """A batch committed: its size, its time, each event's delay since it was stored."""
        self.families.batch_events.labels(self.agency).observe(events)
        self.families.batch_seconds.labels(self.agency).observe(seconds)
        delay = self.families.event_delay.labels(self.agency)
        for seconds_since_stored in delays_s:
            delay.observe(seconds_since_stored)

    def published(self, count: int) -> None:
        if count:
            self.families.events_published.labels(self.agency).inc(count)

    def minimised(self, channel: Literal["event", "reply"], kinds: Iterable[str]) -> None:
        """Personal data of these kinds left out of an event or reply sent abroad."""
        for kind in kinds:
            self.families.minimised.labels(self.agency, channel, kind).inc()

    def outbox(self, backlog: int, oldest_age_s: float) -> None:
        self.families.outbox_backlog.labels(self.agency).set(backlog)
        self.families.outbox_oldest_age.labels(self.agency).set(oldest_age_s)

    def consumer(self, durable: str, *, pending: int, ack_pending: int, redelivered: int) -> None:
        self.families.consumer_pending.labels(self.agency, durable).set(pending)
        self.families.consumer_ack_pending.labels(self.agency, durable).set(ack_pending)
        self.families.consumer_redelivered.labels(self.agency, durable).set(redelivered)

    def ready(self, ready: bool) -> None:
        self.families.service_ready.labels(self.agency, self.service).set(1 if ready else 0)

    def loop_interval(self, loop: str, seconds: float) -> None:
        self.families.loop_interval.labels(self.agency, loop).set(seconds)
        self.families.loop_failures.labels(self.agency, loop)  # 0 from the start

    def loop_beat(self, loop: str) -> None:
        self.families.loop_heartbeat.labels(self.agency, loop).set_to_current_time()

    def loop_failed(self, loop: str) -> None:
        self.families.loop_failures.labels(self.agency, loop).inc()

    def consumer_reading(self, durable: str, reads: bool) -> None:
        self.families.consumer_reading.labels(self.agency, durable).set(1 if reads else 0)

    def consumer_fetched(self, durable: str) -> None:
        self.families.consumer_last_fetch.labels(self.agency, durable).set_to_current_time()

    def calendar_not_covered(self, clock: str) -> None:
        """A deadline (``clock``: the stage or customs clock) could not be computed: the
        calendar lacks a year's holiday notice. It is recorded as not computable."""
        self.families.calendar_not_covered.labels(self.agency, clock).inc()

    def audit_chain_length(self, length: int) -> None:
        """For the audit log: set after each append (or on scrape)."""
        self.families.audit_chain_length.labels(self.agency).set(length)

    # -- the coordinator, who sees every event ------------------------------------------

    def refused_by_authority(self, reason: RejectReason) -> None:
        """A dead letter: counted when its reason is one of :data:`AUTHORITY_REASONS`."""
        if reason in AUTHORITY_REASONS:
            self.families.unauthorised_events.labels(reason.value).inc()

    def referral_issued(self, kind: str) -> None:
        self.families.referrals_issued.labels(kind).inc()

    def referral_overdue_declared(self, kind: str, stage: str) -> None:
        self.families.referrals_overdue_declared.labels(kind, stage).inc()

    def referral_acknowledged_after(self, kind: str, seconds: float) -> None:
        self.families.time_to_acknowledge.labels(kind).observe(max(0.0, seconds))

    def referral_decided_after(self, kind: str, decision: str, seconds: float) -> None:
        self.families.time_to_decide.labels(kind, decision).observe(max(0.0, seconds))

    def referral_counts(
        self,
        counts: Mapping[tuple[str, str], int],
        kinds: Iterable[str],
        states: Iterable[str],
    ) -> None:
        """Set every (kind, state) cell, zero where the coordinator holds none."""
        states = tuple(states)
        for kind in kinds:
            for state in states:
                self.families.referrals.labels(kind, state).set(counts.get((kind, state), 0))

    def overdue_counts(
        self, counts: Mapping[tuple[str, str], int], kinds: Iterable[str], stages: Iterable[str]
    ) -> None:
        stages = tuple(stages)
        for kind in kinds:
            for stage in stages:
                self.families.referrals_overdue.labels(kind, stage).set(
                    counts.get((kind, stage), 0)
                )

    def holder_notice(self, outcome: Literal["notified", "applied", "declined", "lapsed"]) -> None:
        self.families.holder_notices.labels(outcome).inc()

    def evidence_received(self, outcome: str) -> None:
        self.families.evidence_received.labels(outcome).inc()

    def warning_issued(self, severity: str) -> None:
        self.families.warnings_issued.labels(severity).inc()

    def warning_delivered(self, severity: str) -> None:
        self.families.warnings_delivered.labels(severity).inc()

    def warning_acknowledged(self, severity: str) -> None:
        self.families.warnings_acknowledged.labels(severity).inc()

    def unacknowledged_warnings(
        self, counts: Mapping[str, tuple[int, float]], severities: Iterable[str]
    ) -> None:
        """``counts``: severity → (how many, age of the oldest in seconds)."""
        for severity in severities:
            count, oldest = counts.get(severity, (0, 0.0))
            self.families.warnings_unacknowledged.labels(severity).set(count)
            self.families.warnings_unacknowledged_oldest_age.labels(severity).set(oldest)


def metric_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name ``registry`` can expose (``_total``, ``_bucket``, ... included)."""
    names: set[str] = set()
    for collector in list(registry._collector_to_names):
        names.update(registry._collector_to_names[collector])
    return names
