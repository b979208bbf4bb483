"""Stand-ins for the few outside parts a unit test may fake: here, JetStream's publish."""

import asyncio
from dataclasses import dataclass


class Boom(Exception):
    """A handler (or a publish) failing half-way."""


@dataclass
class PubAck:
    seq: int
    duplicate: bool


@dataclass
class Published:
    subject: str
    payload: bytes
    stream: str | None
    headers: dict[str, str]


class FakeJetStream:
    """Records publishes; can fail on the n-th call and report chosen ids as duplicates."""

    def __init__(
        self,
        *,
        fail_on_call: int | None = None,
        duplicates: frozenset[str] = frozenset(),
        delay_s: float = 0.0,
    ) -> None:
        self.published: list[Published] = []
        self.calls = 0
        self._fail_on_call = fail_on_call
        self._duplicates = duplicates
        self._delay_s = delay_s

    async def publish(
        self,
        subject: str,
        payload: bytes,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        self.calls += 1
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        if self.calls == self._fail_on_call:
            raise Boom("nats: timeout")
        self.published.append(Published(subject, payload, stream, dict(headers or {})))
        msg_id = (headers or {}).get("Nats-Msg-Id", "")
        return PubAck(seq=100 + self.calls, duplicate=msg_id in self._duplicates)
