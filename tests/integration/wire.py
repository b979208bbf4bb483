"""Talking to a running bus from outside, as an agency system or an attacker would."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo, RawStreamMsg

from contracts.base import Payload
from contracts.envelope import CONTENT_TYPE, Envelope, encode_envelope, new_envelope
from contracts.subjects import DLQ_STREAM, EVENT_STREAM, event_subject
from services.runtime.bus import coordinator_durables
from services.runtime.identity import AgencyKey, Settings, key_path, sign_envelope

__all__ = [
    "coordinator_consumers",
    "coordinator_pending",
    "dead_letters",
    "publish",
    "signed",
    "to_coordinator",
    "wait_until",
]


def signed(
    settings: Settings,
    sender: str,
    payload: Payload,
    *,
    case_id: str | None = None,
    signer: str | None = None,
    event_id: str | None = None,
    now: datetime | None = None,
) -> Envelope:
    """An envelope from ``sender`` signed with ``signer``'s development key (default: sender's),
    made ``now`` (default: the wall clock; a bus on a test clock wants that clock's now)."""
    envelope = new_envelope(
        sender=sender,
        payload=payload,
        now=now or datetime.now(UTC),
        case_id=case_id,
        event_id=event_id,
    )
    key = AgencyKey(key_path(settings.keys_dir, signer or sender).read_bytes())
    return sign_envelope(envelope, key)


async def publish(
    nc: Client,
    subject: str,
    body: bytes | Envelope | dict[str, Any],
    *,
    msg_id: str | None = None,
) -> None:
    """Publish to JetStream as a raw client: bytes as given, envelopes as structured JSON."""
    if isinstance(body, Envelope):
        msg_id = msg_id or body.id
        data = encode_envelope(body)
    elif isinstance(body, dict):
        data = json.dumps(body).encode()
    else:
        data = body
    headers = {"Content-Type": CONTENT_TYPE}
    if msg_id:
        headers["Nats-Msg-Id"] = msg_id
    await nc.jetstream().publish(subject, data, headers=headers)


def to_coordinator(sender: str, event_type: str, key: str) -> str:
    """``ipbus.v1.<sender>.coordinator.<key>.<event_type>``; ``key`` is the event's partition
    key (:func:`contracts.envelope.partition_key`), any ULID for a body that is no event."""
    return event_subject(sender, "coordinator", key, event_type)


async def coordinator_consumers(js: JetStreamContext) -> list[ConsumerInfo]:
    """The coordinator's durable consumers, one per partition of the event stream."""
    return [await js.consumer_info(EVENT_STREAM, d) for d in await coordinator_durables(js)]


async def coordinator_pending(js: JetStreamContext) -> tuple[int, int]:
    """What the coordinator has yet to deliver and to see acknowledged, over every partition:
    (``num_pending``, ``num_ack_pending``) summed."""
    infos = await coordinator_consumers(js)
    return sum(i.num_pending or 0 for i in infos), sum(i.num_ack_pending or 0 for i in infos)


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; fail with ``what`` when it never does."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def dead_letters(nc: Client, *, at_least: int, timeout_s: float = 10.0) -> list[RawStreamMsg]:
    """Every message on IPBUS_DLQ, once there are ``at_least`` of them."""
    js = nc.jetstream()

    async def enough() -> bool:
        return (await js.stream_info(DLQ_STREAM)).state.messages >= at_least

    await wait_until(enough, timeout_s=timeout_s, what=f"{at_least} dead letters")
    info = await js.stream_info(DLQ_STREAM)
    return [
        await js.get_msg(DLQ_STREAM, seq)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]
