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
    """Records publishes; can fail on the n-th call and report chosen ids as duplicates.

    As on nats-py, a message is sent when ``publish`` is called, in call order, and its
    ack (or error) comes later; the relay reads the connection's state through ``_nc``,
    as on a real ``JetStreamContext``."""

    is_connected = True
    is_closed = False

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
        self._nc = self

    async def publish(
        self,
        subject: str,
        payload: bytes,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        self.calls += 1
        failed = self.calls == self._fail_on_call
        if not failed:
            self.published.append(Published(subject, payload, stream, dict(headers or {})))
        ack = PubAck(
            seq=100 + self.calls,
            duplicate=(headers or {}).get("Nats-Msg-Id", "") in self._duplicates,
        )
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        if failed:
            raise Boom("nats: timeout")
        return ack
