"""One referral's trace, recorded by the OpenTelemetry SDK's in-memory exporter: from the
issuing gateway call to the recipient's ledger and back, across the outbox, real JetStream,
the coordinator and the recipient — and across a restart between outbox write and publish.
Real nats-server, real databases, real HTTP, one process."""

from collections.abc import Iterator, Sequence

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlmodel import select

from contracts.envelope import TRACEPARENT_PATTERN
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralKind, ReferralState
from services.cli.demo import _detention
from services.customs.app import CustomsService
from services.runtime.bus import OutboxRecord
from services.sdk import Bus, ReferralRecord
from tests.integration.conftest import StartGateway
from tests.integration.wire import wait_until

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
AMR = "amr-shanghai"


@pytest.fixture(scope="module")
def provider() -> TracerProvider:
    """The SDK, installed once per process (OpenTelemetry allows one global provider)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    installed = TracerProvider()
    trace.set_tracer_provider(installed)
    return installed


@pytest.fixture
def spans(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    try:
        yield exporter
    finally:
        exporter.clear()
        processor.shutdown()  # a shut-down exporter records nothing more


def _in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


def _named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def _ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[int]:
    """The span ids from ``span``'s parent up to its trace's root."""
    by_id = {s.context.span_id: s for s in spans}
    found: list[int] = []
    while span.parent is not None and span.parent.span_id in by_id:
        found.append(span.parent.span_id)
        span = by_id[span.parent.span_id]
    return found


async def _ledger(bus: Bus, agency: str, referral_id: str) -> ReferralRecord | None:
    async with bus.services[agency].database.transaction() as session:
        return await session.get(ReferralRecord, referral_id)


async def _acknowledged(bus: Bus, referral_id: str) -> None:
    async def at_sender() -> bool:
        record = await _ledger(bus, CUSTOMS, referral_id)
        return record is not None and record.state == ReferralState.ACKNOWLEDGED.value

    await wait_until(at_sender, timeout_s=30, what="the receipt to reach customs")


def _issued(case_id: str, referral_id: str) -> dict[str, object]:
    return {
        "type": "referral.issued",
        "to": AMR,
        "case_id": case_id,
        "data": {
            "referral_id": referral_id,
            "case_id": case_id,
            "kind": ReferralKind.CUSTOMS_TO_ENFORCEMENT.value,
            "reason": "trademark infringement",
            "legal_basis": "Regulations on Customs Protection of IP Rights, art. 27",
            "summary": "1,200 pairs of shoes",
        },
    }


@pytest.mark.timeout(90)
async def test_one_referral_is_one_trace_from_the_gateway_call_to_the_recipients_ledger(
    bus: Bus, spans: InMemorySpanExporter, start_gateway: StartGateway
) -> None:
    customs = bus.services[CUSTOMS]
    assert isinstance(customs, CustomsService)
    async with customs.unit_of_work() as uow:
        case_id = (await customs.detain_goods(uow, _detention())).case_id
    server = await start_gateway(customs)
    referral_id = new_ulid()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        answer = await client.post("/events", json=_issued(case_id, referral_id))
    assert answer.status_code == 202, answer.text
    await _acknowledged(bus, referral_id)
    await server.stop()

    [request] = [
        s
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.SERVER
        and s.attributes
        and s.attributes.get("http.route") == "/events"
    ]  # FastAPI's own server span
    assert request.parent is None  # the agency system sent no traceparent: the trace starts here
    trace_spans = _in_trace(spans, request.context.trace_id)
    [command] = _named(trace_spans, "ipbus command")
    assert request.context.span_id in _ancestors(command, trace_spans)  # via fastapi.endpoint
    [sent] = _named(trace_spans, "ipbus.referral.issued send")
    assert sent.parent is not None
    assert sent.parent.span_id == command.context.span_id
    [published] = [s for s in trace_spans if s.name.endswith("referral.issued publish")]
    assert published.parent is not None
    assert published.parent.span_id == sent.context.span_id
    applied = _named(trace_spans, "ipbus.referral.issued apply")
    by_consumer = {
        s.attributes["messaging.consumer.group.name"]: s for s in applied if s.attributes
    }
    assert set(by_consumer) == {"coordinator", f"agency-{AMR}"}
    for handling in by_consumer.values():
        assert handling.parent is not None
        assert handling.parent.span_id == sent.context.span_id  # the event carried it
        assert handling.links  # and the batch it was applied in is linked
    # the recipient's receipt continues the trace: sent while handling, applied by customs
    [receipt] = _named(trace_spans, "ipbus.referral.acknowledged send")
    assert receipt.parent is not None
    assert receipt.parent.span_id == by_consumer[f"agency-{AMR}"].context.span_id
    assert _named(trace_spans, "ipbus.referral.acknowledged apply")
    assert await _ledger(bus, AMR, referral_id) is not None


@pytest.mark.timeout(90)
async def test_the_trace_survives_a_restart_between_the_outbox_write_and_the_publish(
    bus: Bus, spans: InMemorySpanExporter
) -> None:
    customs = bus.services[CUSTOMS]
    assert isinstance(customs, CustomsService)
    assert customs._relay is not None
    await customs._relay.stop()  # nothing leaves the outbox before the restart
    async with customs.unit_of_work() as uow:
        detention = await customs.detain_goods(uow, _detention())
        referral = await customs.issue_referral(
            uow,
            case_id=detention.case_id,
            to=AMR,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="trademark infringement",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="1,200 pairs of shoes",
        )
    async with customs.database.transaction() as session:
        row = (
            await session.exec(
                select(OutboxRecord).where(OutboxRecord.event_id == uow.emitted[-1].id)
            )
        ).one()
    assert row.sent_at is None  # written, not published
    traceparent = uow.emitted[-1].traceparent
    assert traceparent is not None
    assert TRACEPARENT_PATTERN.match(traceparent)
    [command] = _named(spans.get_finished_spans(), "ipbus command")
    assert traceparent.split("-")[1] == f"{command.context.trace_id:032x}"

    await customs.stop()
    await bus.start_service(CUSTOMS)  # a new relay, reading the committed outbox
    await _acknowledged(bus, referral.referral_id)

    trace_spans = _in_trace(spans, command.context.trace_id)
    [published] = [s for s in trace_spans if s.name.endswith("referral.issued publish")]
    assert published.parent is not None
    assert f"{published.parent.span_id:016x}" == traceparent.split("-")[2]
    recipient = [
        s
        for s in _named(trace_spans, "ipbus.referral.issued apply")
        if s.attributes and s.attributes["messaging.consumer.group.name"] == f"agency-{AMR}"
    ]
    assert len(recipient) == 1
    assert _named(trace_spans, "ipbus.referral.acknowledged apply")
