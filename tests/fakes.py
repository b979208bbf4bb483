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

    Like nats-py's ``publish_async``, a message is sent when the call returns, in call
    order, and its ack comes later; the relay reads the connection's state through
    ``_nc``, as on a real ``JetStreamContext``."""

    is_connected = True
    is_closed = False
    max_payload = 1024 * 1024

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
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        return self._take(subject, payload, stream, headers)

    async def publish_async(
        self,
        subject: str,
        payload: bytes,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> "asyncio.Future[PubAck]":
        ack: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        try:
            outcome: PubAck | Exception = self._take(subject, payload, stream, headers)
        except Boom as exc:
            outcome = exc

        def settle() -> None:
            if ack.done():
                return  # given up on
            if isinstance(outcome, Exception):
                ack.set_exception(outcome)
            else:
                ack.set_result(outcome)

        asyncio.get_running_loop().call_later(self._delay_s, settle)
        return ack

    def _take(
        self, subject: str, payload: bytes, stream: str | None, headers: dict[str, str] | None
    ) -> PubAck:
        self.calls += 1
        if self.calls == self._fail_on_call:
            raise Boom("nats: timeout")
        self.published.append(Published(subject, payload, stream, dict(headers or {})))
        msg_id = (headers or {}).get("Nats-Msg-Id", "")
        return PubAck(seq=100 + self.calls, duplicate=msg_id in self._duplicates)
