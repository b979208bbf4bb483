"""Seizure trends raised from real detentions, and warning steps the coordinator refuses."""

from collections.abc import Callable

import pytest
from nats.aio.client import Client

from contracts.base import Payload
from contracts.envelope import RejectReason, publish_subject
from contracts.identifiers import new_ulid
from contracts.warnings import WarningAcknowledged, WarningRetracted
from services.cli.demo import _detention
from services.customs.app import CustomsService
from services.runtime.bus import DLQ_CONSUMER_HEADER, DLQ_REASON_HEADER, FixedClock
from services.runtime.identity import Settings
from services.sdk import Bus, query_case
from tests.integration.early_warnings.conftest import on_stream
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration


async def test_a_jump_in_detentions_at_one_port_raises_one_seizure_trend(
    warning_bus: Bus, nc: Client
) -> None:
    customs = warning_bus.services["customs-shanghai"]
    assert isinstance(customs, CustomsService)
    for _ in range(4):
        async with customs.unit_of_work() as uow:
            last = await customs.detain_goods(uow, _detention())

    async def all_counted() -> bool:
        reply = await query_case(nc, requester="coordinator", case_id=last.case_id)
        return reply.case is not None and any(
            e.event_type == "goods.detained" for e in reply.case.timeline
        )

    await wait_until(all_counted, what="the coordinator to see the fourth detention")

    async def trends() -> list[str]:
        return [
            recipient
            for recipient, envelope in await on_stream(nc, "warning.delivered")
            if envelope.data["warning"]["category"] == "seizure_trend"
        ]

    async def delivered() -> bool:
        return len(await trends()) >= 2

    await wait_until(delivered, what="a seizure_trend warning")
    issued = [
        e for _, e in await on_stream(nc, "warning.issued") if e.data["category"] == "seizure_trend"
    ]
    assert len(issued) == 1  # the fourth detention does not raise it again
    assert issued[0].data["targets"]["hs_prefixes"] == ["6404"]
    assert sorted(await trends()) == ["amr-shanghai", "customs-shanghai"]


@pytest.mark.parametrize(
    ("payload_for", "sender"),
    [
        pytest.param(
            lambda wid: WarningAcknowledged(warning_id=wid), "amr-guangdong", id="unknown ack"
        ),
        pytest.param(
            lambda wid: WarningRetracted(warning_id=wid, reason="not mine"),
            "customs-guangdong",
            id="retraction of an unknown warning",
        ),
    ],
)
async def test_a_warning_step_that_does_not_fit_is_dead_lettered(
    warning_bus: Bus,
    settings: Settings,
    nc: Client,
    payload_for: Callable[[str], Payload],
    sender: str,
    clock: FixedClock,
) -> None:
    payload = payload_for(new_ulid())
    envelope = signed(settings, sender, payload, now=clock.now())
    await publish(nc, publish_subject(envelope, "coordinator"), envelope)
    [letter] = await dead_letters(nc, at_least=1)
    headers = letter.headers or {}
    assert headers[DLQ_REASON_HEADER] == RejectReason.ILLEGAL_STEP.value
    assert headers[DLQ_CONSUMER_HEADER] == "coordinator"
