"""The streams of a leaf-node site and the hub's sources of them (DESIGN §7, nats_sites.py).

JetStream does the moving: each side declares a stream that *sources* the other across
JetStream domains (``external.api = $JS.<domain>.API``), so events stored while the link
is down are fetched, in order and once, when it returns. Nothing here forwards a message.
"""

from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import NotFoundError

from contracts.subjects import (
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENT_PREFIX,
    EVENT_STREAM,
    agency_consumer,
    agency_filter,
)
from services.runtime.bus.streams import StreamLayout, event_partitions
from services.runtime.server.nats_sites import site_domain

__all__ = ["ensure_hub_sources", "ensure_site_streams", "site_dlq_subjects", "source_from"]


def source_from(
    stream: str, domain: str, filter_subject: str, transform: SubjectTransform | None = None
) -> StreamSource:
    """``stream`` in JetStream domain ``domain``, only the subjects of ``filter_subject``
    (or of ``transform``'s source, rewritten as it says: JetStream takes one or the other)."""
    return StreamSource(
        name=stream,
        filter_subject=None if transform else filter_subject,
        subject_transforms=[transform] if transform else None,
        external=ExternalStream(api=f"$JS.{domain}.API"),
    )


def site_events_partitioned(agency_id: str, partitions: int) -> SubjectTransform:
    """A site's events (stored there as published) filed under the hub's partitions, as the
    hub stream's own transform files what is published to it: the same key, the same
    partition (:func:`services.runtime.bus.streams.partition_transform`)."""
    return SubjectTransform(
        src=f"{EVENT_PREFIX}.{agency_id}.*.*.*.*",
        dest=(
            f"{EVENT_PREFIX}.{agency_id}.{{{{wildcard(1)}}}}.{{{{partition({partitions},2)}}}}"
            ".{{wildcard(2)}}.{{wildcard(3)}}.{{wildcard(4)}}"
        ),
    )


def _source_key(source: StreamSource) -> tuple[str | None, str | None]:
    """What makes a source the same one: its domain and what it takes."""
    takes = source.filter_subject or (
        source.subject_transforms[0].src if source.subject_transforms else None
    )
    return (source.external.api if source.external else None, takes)


def site_dlq_subjects(agency_id: str) -> str:
    """What the agency dead-letters (its consumer, its outbox): ``ipbus.dlq.agency-X.>``."""
    return f"{DLQ_PREFIX}.{agency_consumer(agency_id)}.>"


async def _declare(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def ensure_site_streams(
    js: JetStreamContext, agency_id: str, hub_domain: str, layout: StreamLayout | None = None
) -> None:
    """On the site's own server: ``IPBUS`` holds the agency's events (its outbox publishes
    there) and sources the hub's events addressed to it (its consumer reads them there);
    ``IPBUS_DLQ`` holds what it dead-letters."""
    layout = layout or StreamLayout()
    await _declare(
        js,
        _site_stream(
            EVENT_STREAM,
            f"{EVENT_PREFIX}.{agency_id}.*.*.*.*",
            layout,
            layout.max_message_bytes,
            sources=[source_from(EVENT_STREAM, hub_domain, agency_filter(agency_id))],
        ),
    )
    await _declare(
        js,
        _site_stream(
            DLQ_STREAM, site_dlq_subjects(agency_id), layout, layout.max_message_bytes * 2
        ),
    )


def _site_stream(
    name: str,
    subjects: str,
    layout: StreamLayout,
    max_msg_size: int,
    sources: list[StreamSource] | None = None,
) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[subjects],
        sources=sources,
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        num_replicas=layout.replicas,
        duplicate_window=layout.duplicate_window_s,
        max_msg_size=max_msg_size,
    )


async def ensure_hub_sources(js: JetStreamContext, sites: Sequence[str]) -> None:
    """On the hub, after :func:`ensure_streams`: ``IPBUS`` sources each site's events and
    ``IPBUS_DLQ`` its dead letters, each from the site's domain (idempotent)."""
    partitions = event_partitions((await js.stream_info(EVENT_STREAM)).config)
    wanted = {
        EVENT_STREAM: [
            source_from(
                EVENT_STREAM,
                site_domain(a),
                f"{EVENT_PREFIX}.{a}.>",
                site_events_partitioned(a, partitions),
            )
            for a in sites
        ],
        DLQ_STREAM: [source_from(DLQ_STREAM, site_domain(a), site_dlq_subjects(a)) for a in sites],
    }
    for stream, sources in wanted.items():
        config = (await js.stream_info(stream)).config
        have = {_source_key(s) for s in config.sources or []}
        missing = [s for s in sources if _source_key(s) not in have]
        if missing:
            config.sources = [*(config.sources or []), *missing]
            await js.update_stream(config)
