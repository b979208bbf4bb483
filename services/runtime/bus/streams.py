"""JetStream streams and durable consumers, declared idempotently at start-up.

The wire layout (DESIGN §3) lives here once: stream ``IPBUS`` over the published event
subjects ``ipbus.v1.<sender>.<recipient>.<key>.<family>.<verb>`` with a duplicate window
for ``Nats-Msg-Id`` de-duplication and a subject transform that files each event under a
partition of its key (the case), stream ``IPBUS_DLQ`` over ``ipbus.dlq.>``, one durable
pull consumer per agency and one per partition for the coordinator, and the evidence
object store bucket ``IPBUS_EVIDENCE`` (stream ``OBJ_IPBUS_EVIDENCE``), replicated like the
event stream.

**Partitions** (issue 18): the stream itself computes ``partition(n, key)`` (NATS
deterministic subject-token partitioning) and stores
``ipbus.v1.<sender>.<recipient>.<partition>.<key>.<family>.<verb>``; the coordinator reads
each partition through its own durable consumer (``coordinator-p<i>``), so the events of
one case are applied in order and different cases in parallel. A subject of any other
shape (the unpartitioned five tokens of before, or a publisher naming a partition itself)
matches no stream and is refused at publish. The number is fixed when the stream is
created: changing it re-files keys, so drain the coordinator first (docs/performance.md).
"""

import re
from dataclasses import dataclass, replace
from typing import Any, Self

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RawStreamMsg,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import BadRequestError, NotFoundError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.evidence import EVIDENCE_BUCKET, EVIDENCE_CHUNK_BYTES
from contracts.subjects import (
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENT_PREFIX,
    EVENT_STREAM,
    agency_consumer,
    agency_filter,
    partition_filter,
)
from services.runtime.bus.errors import ConfigurationError

__all__ = [
    "COORDINATOR_CONSUMER",
    "DEFAULT_PARTITIONS",
    "MAX_PARTITIONS",
    "PUBLISHED_EVENTS",
    "ConsumerSpec",
    "StreamLayout",
    "StreamRetention",
    "agency_consumer_spec",
    "coordinator_consumer_spec",
    "coordinator_consumer_specs",
    "ensure_consumer",
    "ensure_evidence_bucket",
    "ensure_streams",
    "event_partitions",
    "evidence_stream",
    "evidence_stream_config",
    "last_stored",
    "partition_transform",
    "stream_configs",
]

COORDINATOR_CONSUMER = "coordinator"
"""The coordinator as one logical consumer: its inbox, its dead letters, its replays. It
reads through one durable consumer per partition, ``coordinator-p<i>``."""
DEFAULT_PARTITIONS = 4
MAX_PARTITIONS = 16
"""The coordinator's NATS rights name each partition's consumer, up to this many."""
PUBLISHED_EVENTS = f"{EVENT_PREFIX}.*.*.*.*.*"
"""What a publisher may send: sender, recipient, key, family, verb; nothing else is stored."""
_PARTITION_DEST = (
    EVENT_PREFIX + ".{{wildcard(1)}}.{{wildcard(2)}}.{{partition(%d,3)}}"
    ".{{wildcard(3)}}.{{wildcard(4)}}.{{wildcard(5)}}"
)
DEFAULT_DUPLICATE_WINDOW_S = 120.0
DEFAULT_MAX_DELIVER = 20
DEFAULT_BACKOFF_S = (5.0, 10.0, 20.0, 30.0, 60.0)
"""Wait for an ack before redelivering, by delivery; a whole batch must fit in the first."""
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamLayout:
    """How the two streams are stored; replicas 3 on a cluster, 1 on one node."""

    replicas: int = 1
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    retention: "StreamRetention | None" = None
    """Age and size limits (policy ``[streams]``); ``None``: unlimited, as before."""
    partitions: int = DEFAULT_PARTITIONS
    """How many partitions the coordinator's work is split into (by case)."""


class StreamRetention(BaseModel):
    """How long and how much each stream keeps (policy ``[streams]``, operational numbers).

    The oldest messages go first when a limit is reached. Every service's database keeps
    what it applied, so the stream is a transport, not the record; the dead-letter stream
    is kept longer because its messages exist nowhere else until someone looks at them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    events_max_age_days: float = Field(default=30, gt=0)
    events_max_gib: float = Field(default=20, gt=0)
    dead_letters_max_age_days: float = Field(default=180, gt=0)
    dead_letters_max_gib: float = Field(default=5, gt=0)

    @model_validator(mode="after")
    def _dead_letters_kept_longer(self) -> Self:
        if self.dead_letters_max_age_days < self.events_max_age_days:
            raise ValueError("dead letters must be kept at least as long as events")
        return self


_DAY_S = 86_400.0
_GIB = 1024**3


def _limits(max_age_days: float | None, max_gib: float | None) -> dict[str, Any]:
    return {
        "max_age": max_age_days * _DAY_S if max_age_days else None,
        "max_bytes": int(max_gib * _GIB) if max_gib else None,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerSpec:
    """One durable pull consumer on ``IPBUS``."""

    durable: str
    filter_subject: str
    max_deliver: int = DEFAULT_MAX_DELIVER
    backoff_s: tuple[float, ...] = DEFAULT_BACKOFF_S
    max_ack_pending: int = 1000
    in_stream_order: bool = False
    """Apply each message only after every one before it (of this consumer) is acknowledged,
    whichever replica holds it (:mod:`services.runtime.bus.consumer`)."""

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            # ``name`` makes nats-py use CONSUMER.CREATE.<stream>.<name>.<filter>, whose
            # subject carries the filter, so NATS permissions can pin it (nats_config.py).
            name=self.durable,
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=max(30.0, self.backoff_s[-1] + 1 if self.backoff_s else 30.0),
            max_deliver=self.max_deliver,
            backoff=list(self.backoff_s) or None,
            max_ack_pending=self.max_ack_pending,
        )


def agency_consumer_spec(agency_id: str) -> ConsumerSpec:
    """``agency-<id>`` filtered on everything addressed to the agency, read in stream order
    by however many replicas the agency's service runs (a case's events depend on each
    other: a withdrawal applied before its referral would be refused)."""
    return ConsumerSpec(
        durable=agency_consumer(agency_id),
        filter_subject=agency_filter(agency_id),
        in_stream_order=True,
    )


def coordinator_consumer_spec() -> ConsumerSpec:
    """The coordinator as one logical consumer of every event on the bus (its inbox and
    dead letters go by this name); it reads through :func:`coordinator_consumer_specs`."""
    return ConsumerSpec(
        durable=COORDINATOR_CONSUMER, filter_subject=f"{EVENT_PREFIX}.>", in_stream_order=True
    )


def coordinator_consumer_specs(logical: ConsumerSpec, partitions: int) -> tuple[ConsumerSpec, ...]:
    """One durable consumer per partition (``coordinator-p<i>``), each read in stream order
    (the order of its cases), delivered and retried like ``logical``."""
    return tuple(
        replace(logical, durable=f"{logical.durable}-p{p}", filter_subject=partition_filter(p))
        for p in range(partitions)
    )


def partition_transform(partitions: int) -> SubjectTransform:
    """The stream's own partitioning: the key token (the case) decides the partition."""
    return SubjectTransform(src=PUBLISHED_EVENTS, dest=_PARTITION_DEST % partitions)


_PARTITION_COUNT = re.compile(r"\{\{\s*partition\((\d+),")


def event_partitions(config: StreamConfig) -> int:
    """How many partitions ``IPBUS`` (as declared) files events under."""
    transform = config.subject_transform
    found = _PARTITION_COUNT.search(transform.dest) if transform and transform.dest else None
    if found is None:
        raise ConfigurationError(
            f"stream {config.name} is not partitioned: provision it again (ipbus up does)"
        )
    return int(found.group(1))


def stream_configs(layout: StreamLayout) -> tuple[StreamConfig, StreamConfig]:
    """The two streams' configuration for ``layout``."""
    retention = layout.retention
    return (
        StreamConfig(
            name=EVENT_STREAM,
            subjects=[PUBLISHED_EVENTS],
            subject_transform=partition_transform(layout.partitions),
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            num_replicas=layout.replicas,
            duplicate_window=layout.duplicate_window_s,
            max_msg_size=layout.max_message_bytes,
            **_limits(
                retention.events_max_age_days if retention else None,
                retention.events_max_gib if retention else None,
            ),
        ),
        StreamConfig(
            name=DLQ_STREAM,
            subjects=[f"{DLQ_PREFIX}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            num_replicas=layout.replicas,
            duplicate_window=layout.duplicate_window_s,
            max_msg_size=layout.max_message_bytes * 2,
            discard=DiscardPolicy.OLD,
            **_limits(
                retention.dead_letters_max_age_days if retention else None,
                retention.dead_letters_max_gib if retention else None,
            ),
        ),
    )


def evidence_stream() -> str:
    """The stream behind the evidence bucket."""
    return f"OBJ_{EVIDENCE_BUCKET}"


def evidence_stream_config(layout: StreamLayout) -> StreamConfig:
    """The object store bucket ``IPBUS_EVIDENCE`` as nats-py's ``create_object_store``
    declares it (chunk and meta subjects, rollups, direct gets), replicated like ``IPBUS``.

    One message is one chunk (:data:`EVIDENCE_CHUNK_BYTES`) or an object's meta; the stream
    keeps evidence as long as cases need it, so no age limit.
    """
    return StreamConfig(
        name=evidence_stream(),
        description="ipbus evidence: bytes by object store, digests by signed event",
        subjects=[f"$O.{EVIDENCE_BUCKET}.C.>", f"$O.{EVIDENCE_BUCKET}.M.>"],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.NEW,
        num_replicas=layout.replicas,
        max_msg_size=EVIDENCE_CHUNK_BYTES + 64 * 1024,
        allow_rollup_hdrs=True,
        allow_direct=True,
    )


async def ensure_evidence_bucket(js: JetStreamContext, layout: StreamLayout) -> None:
    """Create the evidence bucket's stream, or bring it up to ``layout``."""
    config = evidence_stream_config(layout)
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return
    try:
        await js.update_stream(config)
    except BadRequestError as exc:
        raise ConfigurationError(
            f"stream {config.name} exists with a configuration that cannot be "
            f"updated to the one ipbus needs: {exc.description}"
        ) from exc


async def ensure_streams(js: JetStreamContext, layout: StreamLayout | None = None) -> None:
    """Create ``IPBUS``, ``IPBUS_DLQ`` and the evidence bucket, or bring them up to ``layout``."""
    layout = layout or StreamLayout()
    await ensure_evidence_bucket(js, layout)
    for config in stream_configs(layout):
        try:
            existing = await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
        else:
            config.sources = existing.config.sources  # a hub's site sources (site_streams.py)
            try:
                await js.update_stream(config)
            except BadRequestError as exc:
                raise ConfigurationError(
                    f"stream {config.name} exists with a configuration that cannot be "
                    f"updated to the one ipbus needs: {exc.description}"
                ) from exc


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create the durable consumer, or update it in place when it already exists."""
    try:
        await js.add_consumer(EVENT_STREAM, spec.config())
    except BadRequestError as exc:
        raise ConfigurationError(
            f"consumer {spec.durable} could not be declared: {exc.description}"
        ) from exc


async def last_stored(js: JetStreamContext, subjects: str) -> RawStreamMsg | None:
    """The last event ``IPBUS`` holds on a subject matching ``subjects`` (a
    :func:`contracts.subjects.stored_filter`: the partition token is a wildcard, which
    a last-by-subject get does not take), or None."""
    info = await js.stream_info(EVENT_STREAM, subjects_filter=subjects)
    found = [await js.get_last_msg(EVENT_STREAM, s) for s in (info.state.subjects or {})]
    return max(found, key=lambda m: m.seq or 0, default=None)


async def coordinator_durables(js: JetStreamContext) -> tuple[str, ...]:
    """The coordinator's durable consumers, one per partition of ``IPBUS`` as declared."""
    partitions = event_partitions((await js.stream_info(EVENT_STREAM)).config)
    return tuple(
        spec.durable for spec in coordinator_consumer_specs(coordinator_consumer_spec(), partitions)
    )


async def coordinator_backlog(js: JetStreamContext) -> int:
    """Events the coordinator has not yet applied and acknowledged, over every partition
    (a partition whose consumer no replica has created yet counts as the whole of it)."""
    backlog = 0
    for durable in await coordinator_durables(js):
        try:
            info = await js.consumer_info(EVENT_STREAM, durable)
        except NotFoundError:
            backlog += int((await js.stream_info(EVENT_STREAM)).state.messages or 0)
            continue
        backlog += int((info.num_pending or 0) + (info.num_ack_pending or 0))
    return backlog
