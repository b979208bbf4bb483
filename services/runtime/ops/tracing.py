"""OpenTelemetry tracing: one referral followed across agencies, the outbox and restarts.

The W3C trace context travels *in* the event (DESIGN §4: the ``traceparent`` and
``tracestate`` CloudEvents extensions, inside the signed bytes), not in NATS headers: an
event may sit in an outbox across a restart, or be replayed from the stream, and still
belong to the trace of the command that caused it. An event emitted in reaction to another
continues its cause's trace.

Spans (from the ``ipbus`` tracer): the agency command (:func:`command_span`), the outbox
write (:func:`emit_span`, a producer span whose context the event carries), the relay's
publish (:func:`record_publish`), the batch a consumer applies (:func:`batch_span`) and each
event's application in it (:func:`apply_span`, a consumer span under the event's own trace,
linked to the batch). The gateway request's
server span is FastAPI's own (its built-in OpenTelemetry support, which also continues an
agency system's ``traceparent`` header); the command runs inside it.

Export is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the ``ipbus[otel]`` extra: SDK
and OTLP/HTTP exporter, configured by the standard ``OTEL_*`` variables); otherwise the API's
no-op tracer runs: no span is recorded, but contexts still propagate, so every event still
continues its cause's trace and log lines still carry its trace id.
"""

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contracts.envelope import Event
from services.runtime.bus.errors import ConfigurationError

__all__ = [
    "OTLP_ENDPOINT_ENV",
    "add_trace_ids",
    "apply_span",
    "batch_span",
    "command_span",
    "configure_tracing",
    "emit_span",
    "publish_started",
    "record_publish",
    "trace_of",
]

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACER_NAME = "ipbus"
_PROPAGATOR = TraceContextTextMapPropagator()


def configure_tracing(
    service: str, agency: str, *, environ: Mapping[str, str] = os.environ
) -> bool:
    """Export spans over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; True if on.

    Misconfiguration fails at start: an endpoint without the ``ipbus[otel]`` extra raises.
    """
    if not environ.get(OTLP_ENDPOINT_ENV):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigurationError(
            f"{OTLP_ENDPOINT_ENV} is set but the OpenTelemetry SDK is not installed: "
            "pip install 'ipbus[otel]'"
        ) from exc
    resource = Resource.create(
        {"service.name": f"ipbus-{service}", "service.instance.id": agency, "ipbus.agency": agency}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def _tracer() -> Tracer:
    return trace.get_tracer(TRACER_NAME)


def _extract(traceparent: Any, tracestate: Any) -> Context | None:
    """The context a ``traceparent`` names; None when absent or not W3C (then ignored)."""
    if not isinstance(traceparent, str):
        return None
    carrier = {"traceparent": traceparent}
    if isinstance(tracestate, str):
        carrier["tracestate"] = tracestate
    extracted = _PROPAGATOR.extract(carrier)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def event_context(event: Event | None) -> Context | None:
    """The trace ``event`` belongs to, as its sender wrote it (None for an old sender's)."""
    if event is None:
        return None
    return _extract(event.envelope.traceparent, event.envelope.tracestate)


def trace_of(cause: Event | None = None) -> tuple[str | None, str | None]:
    """``(traceparent, tracestate)`` for an event emitted now: the active span's context,
    else the cause's, else ``(None, None)`` (the envelope then starts a fresh trace)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    if "traceparent" in carrier:
        return carrier["traceparent"], carrier.get("tracestate")
    if cause is not None and event_context(cause) is not None:
        return cause.envelope.traceparent, cause.envelope.tracestate
    return None, None


@contextmanager
def command_span(agency: str, cause: Event | None = None) -> Iterator[Span]:
    """An agency's command (a unit of work), under its cause's trace when it has one."""
    with _tracer().start_as_current_span(
        "ipbus command",
        context=event_context(cause),
        attributes={"ipbus.agency": agency},
    ) as span:
        yield span


@contextmanager
def emit_span(event_type: str, sender: str, recipient: str) -> Iterator[Span]:
    """The outbox write of one event; the event carries this span's context."""
    with _tracer().start_as_current_span(
        f"ipbus.{event_type} send",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "create",
            "ipbus.event_type": event_type,
            "ipbus.sender": sender,
            "ipbus.recipient": recipient,
        },
    ) as span:
        yield span


def publish_started() -> int:
    """The time a publish starts, for :func:`record_publish`."""
    return time.time_ns()


def record_publish(subject: str, body: bytes, started_ns: int, *, stream_seq: int) -> None:
    """The relay published ``body``: a span from ``started_ns`` to now, in the event's trace."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return  # no SDK installed: nothing would record it, so do not parse the body
    try:
        raw = json.loads(body)
    except ValueError:
        return  # the relay sends what was committed; a body it cannot read has no trace
    parent = (
        _extract(raw.get("traceparent"), raw.get("tracestate")) if isinstance(raw, dict) else None
    )
    span = _tracer().start_span(
        f"{subject} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        start_time=started_ns,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "publish",
            "messaging.destination.name": subject,
            "messaging.message.id": str(raw.get("id", "")) if isinstance(raw, dict) else "",
            "ipbus.stream_seq": stream_seq,
        },
    )
    span.end()


@contextmanager
def batch_span(consumer: str, events: Sequence[Event]) -> Iterator[Span]:
    """A consumer's batch, linked to the trace of every event in it."""
    links = [
        Link(trace.get_current_span(ctx).get_span_context())
        for ctx in (event_context(e) for e in events)
        if ctx is not None
    ]
    with _tracer().start_as_current_span(
        f"{consumer} apply batch",
        context=Context(),  # a batch mixes traces: its own root, linked to each
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": consumer,
            "messaging.batch.message_count": len(events),
        },
    ) as span:
        yield span


@contextmanager
def apply_span(consumer: str, event: Event) -> Iterator[Span]:
    """One event's application, in the event's own trace, linked to the batch around it."""
    batch = trace.get_current_span().get_span_context()
    with _tracer().start_as_current_span(
        f"ipbus.{event.event_type} apply",
        context=event_context(event) or Context(),
        kind=SpanKind.CONSUMER,
        links=[Link(batch)] if batch.is_valid else [],
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": consumer,
            "messaging.message.id": event.id,
            "ipbus.event_type": event.event_type,
            "ipbus.sender": event.sender,
            "ipbus.recipient": event.recipient,
        },
    ) as span:
        yield span


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the active span, when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        if event_dict.get("trace_id") is None:  # an event's own (see event_fields) stays
            event_dict["trace_id"] = f"{context.trace_id:032x}"
        event_dict.setdefault("span_id", f"{context.span_id:016x}")
    return event_dict
