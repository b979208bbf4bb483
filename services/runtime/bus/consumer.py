"""The read side of a service: its durable pull consumer, fetched in batches, in order.

FastStream's pull subscribers either run the messages of a fetched batch concurrently or
wait for a full batch before handing it over. Events of one case must be applied in stream
order, and a lone event must not wait for company, so this loop is nats.py's plain
``fetch``: it returns at once with whatever is waiting, up to ``batch_max`` messages. Under
load the batches fill by themselves (messages pile up while the previous batch is applied);
at a trickle each event goes through alone.

**Stream order across replicas and crashes** (``in_stream_order``, for a consumer that
sees every message of its stream, like the coordinator's): a batch is handed over only
from the consumer's ack floor on — every message before it acknowledged, that is,
applied and committed by whichever replica had it. The rest of the batch waits, kept
alive (``in_progress``, so waiting costs none of its deliveries and it is not
redelivered elsewhere meanwhile). A message whose predecessor is still out with another
replica waits for it; when the predecessor was with a replica that died, the waiting
batch fetches again after ``hold_s`` (a little over the first redelivery backoff), which
brings the predecessor back, redeliveries first. A batch that makes no progress for
three holds is handed back (``nak``).

A predecessor that will never come back does not hold the rest: JetStream stops
delivering a message after ``max_deliver`` attempts (the coordinator dead-letters it on
the advisory, :mod:`services.runtime.bus.exhausted`) but does not move the ack floor past it
until a later message is acknowledged (nats-server 2.15). So when no message but the
ones in hand is out with anyone (``num_ack_pending``), every unacknowledged predecessor
is one of those, and the batch goes on.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from services.runtime.ops.logging import Logger
from services.runtime.ops.tasks import cancel_and_wait

__all__ = ["BATCH_MAX", "FETCH_WAIT_S", "STALL_MARGIN_S", "EventConsumer", "in_turn"]

BATCH_MAX = 200
"""Most messages applied in one transaction; well under the consumer's ``max_ack_pending``."""
FETCH_WAIT_S = 1.0
"""How long one fetch waits on an empty consumer before asking again."""
RETRY_PAUSE_S = 0.5
"""Pause after a failed fetch (NATS reconnecting, JetStream briefly unavailable)."""
TURN_POLL_S = (0.002, 0.005, 0.01, 0.02, 0.05)
"""Pauses between looks at the ack floor while a batch waits for its predecessors."""
STALL_MARGIN_S = 30.0
"""Beyond its fetch wait, how long the loop may go without fetching or handing over a batch
before readiness calls it stalled: room for one slow batch commit on a loaded database."""
HAND_BACK_HOLDS = 3
"""Holds without progress after which a waiting batch is handed back (``nak``), so that
replicas each holding some successors of a lost message do not wait on each other."""

T = TypeVar("T")


def in_turn(
    messages: Sequence[T], ack_floor: int, seq: Callable[[T], int]
) -> tuple[list[T], list[T]]:
    """Split ``messages`` (in stream order) into those that may be applied now and those
    that must wait. ``ack_floor``: every stream sequence up to it is acknowledged. A message
    may go when every sequence before it is acknowledged or earlier in the same batch.

    >>> in_turn([4, 5, 7], 3, seq=int)
    ([4, 5], [7])
    >>> in_turn([2, 4, 5], 3, seq=int)  # 2 came again after its ack: the inbox knows it
    ([2, 4, 5], [])
    """
    expected = ack_floor + 1
    for index, message in enumerate(messages):
        position = seq(message)
        if position > expected:
            return list(messages[:index]), list(messages[index:])
        expected = max(expected, position + 1)
    return list(messages), []


def _stream_seq(message: Msg) -> int:
    return int(message.metadata.sequence.stream)


class EventConsumer:
    """Fetch from one durable consumer and hand each batch to ``deliver``, one at a time."""

    def __init__(
        self,
        js: Callable[[], JetStreamContext],
        *,
        stream: str,
        durable: str,
        deliver: Callable[[list[Msg]], Awaitable[None]],
        log: Logger,
        batch_max: int = BATCH_MAX,
        wait_s: float = FETCH_WAIT_S,
        in_stream_order: bool = False,
        hold_s: float = 6.0,
        touch_s: float = 2.0,
        on_fetched: Callable[[], None] | None = None,
        stall_margin_s: float = STALL_MARGIN_S,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._deliver = deliver
        self._log = log
        self._batch_max = batch_max
        self._wait_s = wait_s
        self._in_stream_order = in_stream_order
        self._hold_s = hold_s
        self._touch_s = touch_s
        """How often waiting messages are marked in progress; under the first ack wait."""
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._delivering = False
        self._on_fetched = on_fetched
        self._stall_after_s = wait_s + stall_margin_s
        self._last_active: float | None = None
        """``time.monotonic()`` of the last fetch or batch handed over."""

    def stalled(self) -> str | None:
        """Why this process is not reading its consumer (for readiness), or None."""
        if self._task is None or self._last_active is None:
            return "not started"
        if self._task.done():
            return "consumer loop stopped"
        silent_s = time.monotonic() - self._last_active
        if silent_s > self._stall_after_s:
            return f"no fetch for {silent_s:.0f} s (wait {self._wait_s:g} s)"
        return None

    def _active(self) -> None:
        self._last_active = time.monotonic()
        if self._on_fetched is not None:
            self._on_fetched()

    async def start(self) -> None:
        self._subscription = await self._js().pull_subscribe_bind(
            durable=self._durable, stream=self._stream
        )
        self._active()
        self._task = asyncio.create_task(self._run(), name=f"consume {self._durable}")

    async def stop(self, timeout_s: float) -> None:
        """Let the batch in hand finish (bounded), then leave the consumer to the server."""
        self._stopping.set()
        if self._task is not None:
            if not self._delivering:  # waiting in a fetch: nothing in hand to finish
                self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
            if not done:
                self._log.warning("consumer did not stop in time; cancelling", after_s=timeout_s)
                await cancel_and_wait(self._task)
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def _run(self) -> None:
        assert self._subscription is not None
        while not self._stopping.is_set():
            try:
                messages = await self._subscription.fetch(self._batch_max, timeout=self._wait_s)
            except (NatsTimeoutError, TimeoutError):
                self._active()  # asked, nothing waiting: still reading
                continue
            except ConnectionClosedError:
                return
            except Exception as exc:  # reconnecting, no JetStream for a moment: ask again
                self._log.warning("fetch failed; retrying", error=repr(exc))
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            self._active()
            self._delivering = True
            try:
                if self._in_stream_order:
                    await self._deliver_in_turn(messages)
                else:
                    await self._deliver(messages)
            except Exception:  # unacknowledged messages come back; the loop must not die
                self._log.exception("batch failed; its messages will be redelivered")
                await asyncio.sleep(RETRY_PAUSE_S)
            finally:
                self._delivering = False
                self._active()

    async def _deliver_in_turn(self, messages: list[Msg]) -> None:
        """Hand over what is in turn; keep the rest alive and fetch their predecessors."""
        held = {_stream_seq(m): m for m in messages}
        now = time.monotonic()
        fetch_at, touch_at = now + self._hold_s, now + self._touch_s
        hand_back_at = now + HAND_BACK_HOLDS * self._hold_s
        pauses = iter(TURN_POLL_S)
        while held:
            info = await self._js().consumer_info(self._stream, self._durable)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            ready, waiting = in_turn(sorted(held.values(), key=_stream_seq), floor, _stream_seq)
            if not ready and info.num_ack_pending <= len(waiting):
                self._log.warning(
                    "predecessors will not be delivered again; going on without them",
                    first=_stream_seq(waiting[0]),
                    ack_floor=floor,
                )
                ready, waiting = in_turn(waiting, _stream_seq(waiting[0]) - 1, _stream_seq)
            if ready:
                for message in ready:
                    del held[_stream_seq(message)]
                await self._deliver(ready)
                self._active()  # a batch waiting on predecessors is progress, not a stall
                pauses = iter(TURN_POLL_S)
                hand_back_at = time.monotonic() + HAND_BACK_HOLDS * self._hold_s
                continue
            now = time.monotonic()
            if self._stopping.is_set() or now >= hand_back_at:
                if not self._stopping.is_set():  # e.g. two replicas each holding successors
                    self._log.info("no progress; handing the batch back", ack_floor=floor)
                for message in waiting:
                    await message.nak()
                return
            if now >= touch_at or now >= fetch_at:
                for message in waiting:  # still ours: not redelivered, no delivery spent
                    await message.in_progress()
                touch_at = now + self._touch_s
            if now >= fetch_at:
                self._log.info(
                    "predecessors still out; fetching them",
                    first=_stream_seq(waiting[0]),
                    ack_floor=floor,
                )
                more = await self._fetch_more(2 * self._batch_max - len(held))
                for message in more:
                    held[_stream_seq(message)] = message  # the newest delivery is the one to ack
                # while redeliveries keep coming (a dead replica's whole batch), ask again
                fetch_at = time.monotonic() + (0.0 if more else self._hold_s)
                continue
            await asyncio.sleep(next(pauses, TURN_POLL_S[-1]))

    async def _fetch_more(self, room: int) -> list[Msg]:
        """Up to ``room`` messages due now (redeliveries come first), without waiting long."""
        assert self._subscription is not None
        try:
            return await self._subscription.fetch(max(1, room), timeout=TURN_POLL_S[-1] * 4)
        except (NatsTimeoutError, TimeoutError):
            return []
