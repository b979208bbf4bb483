"""Talking to a running bus from outside, as an agency system or an attacker would."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.js.api import RawStreamMsg

from contracts.base import Payload
from contracts.envelope import CONTENT_TYPE, Envelope, encode_envelope, new_envelope
from contracts.subjects import DLQ_STREAM, event_subject
from services.runtime.identity import AgencyKey, Settings, key_path, sign_envelope

__all__ = ["dead_letters", "publish", "signed", "to_coordinator", "wait_until"]


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


def to_coordinator(sender: str, event_type: str) -> str:
    return event_subject(sender, "coordinator", event_type)


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
