"""The trace context an event carries (DESIGN §4), without the SDK: fresh, continued from
the active span or from the cause, tolerant of old senders; log lines carry the trace id."""

import json
import logging
import sys
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from contracts.envelope import TRACEPARENT_PATTERN, decode_event, encode_envelope
from services.runtime.bus import ConfigurationError
from services.runtime.ops import (
    OTLP_ENDPOINT_ENV,
    add_trace_ids,
    configure_logging,
    configure_tracing,
    event_fields,
    get_logger,
    trace_of,
)
from tests.unit.builders import CUSTOMS, decoded, envelope_for, referral_issued, subject_for
from tests.unit.test_private_logs_and_letters import restore_logging  # noqa: F401 (fixture)

CASE = "01J00000000000000000000001"
ACTIVE = SpanContext(
    trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
    span_id=0x00F067AA0BA902B7,
    is_remote=False,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
)


def test_an_event_with_no_span_and_no_cause_starts_a_trace_of_its_own() -> None:
    first = envelope_for(referral_issued(CASE), case_id=CASE)
    second = envelope_for(referral_issued(CASE), case_id=CASE)

    assert first.traceparent is not None
    assert second.traceparent is not None
    assert TRACEPARENT_PATTERN.match(first.traceparent)
    assert first.traceparent.split("-")[1] != second.traceparent.split("-")[1]
    assert first.tracestate is None


def test_the_traceparent_is_signed_and_survives_the_wire() -> None:
    envelope = envelope_for(referral_issued(CASE), case_id=CASE, tracestate="ipbus=1")

    event = decode_event(encode_envelope(envelope), subject_for(envelope))

    assert event.envelope.traceparent == envelope.traceparent
    assert b'"traceparent"' in event.signed_bytes


def test_an_event_emitted_in_a_span_carries_that_span() -> None:
    with trace.use_span(NonRecordingSpan(ACTIVE)):
        assert trace_of() == ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None)


def test_a_reaction_outside_any_span_continues_its_causes_trace() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    cause = decoded(envelope_for(referral_issued(CASE), case_id=CASE, traceparent=traceparent))

    assert trace_of(cause) == (traceparent, None)


def test_an_old_senders_event_without_traceparent_is_accepted_and_starts_nothing() -> None:
    raw_envelope = envelope_for(referral_issued(CASE), case_id=CASE).model_copy(
        update={"traceparent": None}
    )
    cause = decode_event(encode_envelope(raw_envelope), subject_for(raw_envelope))

    assert cause.envelope.traceparent is None
    assert trace_of(cause) == (None, None)


@pytest.mark.parametrize(
    "malformed",
    [
        "not a traceparent",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    ],
)
def test_a_malformed_traceparent_is_kept_but_ignored(malformed: str) -> None:
    cause = decoded(envelope_for(referral_issued(CASE), case_id=CASE, traceparent=malformed))

    assert cause.envelope.traceparent == malformed  # signed: kept as sent
    assert trace_of(cause) == (None, None)


def test_a_log_line_in_a_span_carries_its_trace_and_span_ids() -> None:
    with trace.use_span(NonRecordingSpan(ACTIVE)):
        inside = add_trace_ids(None, "info", {"event": "applied"})
    outside = add_trace_ids(None, "info", {"event": "applied"})

    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in outside


def test_tracing_is_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[object] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)

    assert configure_tracing("customs", CUSTOMS, environ={}) is False
    assert installed == []


def test_an_endpoint_installs_the_sdk_with_the_agency_as_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed: list[TracerProvider] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)

    on = configure_tracing(
        "customs", CUSTOMS, environ={OTLP_ENDPOINT_ENV: "http://otel-collector:4318"}
    )

    assert on is True
    [provider] = installed
    assert provider.resource.attributes["service.name"] == "ipbus-customs"
    assert provider.resource.attributes["ipbus.agency"] == CUSTOMS
    provider.shutdown()


def test_an_endpoint_without_the_otel_extra_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)

    with pytest.raises(ConfigurationError, match=r"ipbus\[otel\]"):
        configure_tracing("customs", CUSTOMS, environ={OTLP_ENDPOINT_ENV: "http://x:4318"})


@pytest.mark.usefixtures("restore_logging")
def test_our_lines_and_a_librarys_lines_in_a_span_carry_its_trace_id(tmp_path: Path) -> None:
    log_file = tmp_path / "ipbus.log"
    configure_logging(fmt="json", file=log_file)
    with trace.use_span(NonRecordingSpan(ACTIVE)):
        get_logger("customs", CUSTOMS).info("applied")
        logging.getLogger("nats").warning("reconnecting")
    get_logger("customs", CUSTOMS).info("idle")
    for handler in logging.getLogger().handlers:
        handler.flush()

    ours, library, outside = (json.loads(line) for line in log_file.read_text().splitlines())

    assert ours["trace_id"] == library["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ours["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in outside


def test_every_line_about_an_event_names_its_trace_even_outside_a_span() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    event = decoded(envelope_for(referral_issued(CASE), case_id=CASE, traceparent=traceparent))
    old = decoded(envelope_for(referral_issued(CASE), case_id=CASE, traceparent="garbage"))

    assert event_fields(event)["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert event_fields(old)["trace_id"] is None
