"""The read side of a service: its durable pull consumer, fetched in batches, in order.

FastStream's pull subscribers either run the messages of a fetched batch concurrently or
wait for a full batch before handing it over. Events of one case must be applied in stream
order, and a lone event must not wait for company, so this loop is nats.py's plain
``fetch``: it returns at once with whatever is waiting, up to ``batch_max`` messages. Under
load the batches fill by themselves (messages pile up while the previous batch is applied);
at a trickle each event goes through alone.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

__all__ = ["BATCH_MAX", "FETCH_WAIT_S", "EventConsumer"]

BATCH_MAX = 200
"""Most messages applied in one transaction; well under the consumer's ``max_ack_pending``."""
FETCH_WAIT_S = 1.0
"""How long one fetch waits on an empty consumer before asking again."""
RETRY_PAUSE_S = 0.5
"""Pause after a failed fetch (NATS reconnecting, JetStream briefly unavailable)."""


class EventConsumer:
    """Fetch from one durable consumer and hand each batch to ``deliver``, one at a time."""

    def __init__(
        self,
        js: Callable[[], JetStreamContext],
        *,
        stream: str,
        durable: str,
        deliver: Callable[[list[Msg]], Awaitable[None]],
        log: Any,
        batch_max: int = BATCH_MAX,
        wait_s: float = FETCH_WAIT_S,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._deliver = deliver
        self._log = log
        self._batch_max = batch_max
        self._wait_s = wait_s
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._subscription = await self._js().pull_subscribe_bind(
            durable=self._durable, stream=self._stream
        )
        self._task = asyncio.create_task(self._run(), name=f"consume {self._durable}")

    async def stop(self, timeout_s: float) -> None:
        """Let the batch in hand finish (bounded), then leave the consumer to the server."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
            if not done:
                self._log.warning("consumer did not stop in time; cancelling", after_s=timeout_s)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def _run(self) -> None:
        assert self._subscription is not None
        while not self._stopping.is_set():
            try:
                messages = await self._subscription.fetch(self._batch_max, timeout=self._wait_s)
            except (NatsTimeoutError, TimeoutError):
                continue
            except ConnectionClosedError:
                return
            except Exception as exc:  # reconnecting, no JetStream for a moment: ask again
                self._log.warning("fetch failed; retrying", error=repr(exc))
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            try:
                await self._deliver(messages)
            except Exception:  # unacknowledged messages come back; the loop must not die
                self._log.exception("batch failed; its messages will be redelivered")
                await asyncio.sleep(RETRY_PAUSE_S)
