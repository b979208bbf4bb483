"""The read side of a service: its durable pull consumer, fetched in batches, in order.

FastStream's pull subscribers either run the messages of a fetched batch concurrently or
wait for a full batch before handing it over. Events of one case must be applied in stream
order, and a lone event must not wait for company, so this loop is nats.py's plain
``fetch``: it returns at once with whatever is waiting, up to ``batch_max`` messages. Under
load the batches fill by themselves (messages pile up while the previous batch is applied);
at a trickle each event goes through alone.

**Stream order across replicas and crashes** (``in_stream_order``: the coordinator's
consumers, one per partition of the stream, and each agency's): a message is handed over
only when every message of its consumer before it is acknowledged — applied and committed
by whichever replica had it (:func:`in_turn` says how that is read from the consumer's ack floor and
count of unacknowledged messages). What is not yet in turn waits, kept alive
(``in_progress``, so waiting costs none of its deliveries and it is not redelivered
elsewhere meanwhile), and fetches again every second: what a replica that died held comes
back after the first redelivery backoff, redeliveries first. A batch that waits on messages
another live replica holds asks the turn (:mod:`.turns`) at once: two readers may each hold
what the other waits for (a redelivered message of a filtered consumer cannot prove it is
next while later ones are out elsewhere), so one of them hands its batch back (``nak``),
stands by, and the other fetches it and goes on. A batch that makes no progress for three
holds (``hold_s``) is handed back too.

A process that settled every delivery it was given (acked or dead-lettered, none to be
redelivered) knows the next deliveries of the consumer are in turn without asking the
server (:func:`next_run`): nobody was given anything in between. So a lone reader looks at
the ack floor only after a nak or a gap in the deliveries, and never mistakes its own acks,
which the server may not have counted yet, for messages another replica holds.

A predecessor that will never come back does not hold the rest: JetStream stops
delivering a message after ``max_deliver`` attempts (the coordinator dead-letters it on
the advisory, :mod:`services.runtime.bus.exhausted`) and no longer counts it
unacknowledged, so once every message out is in hand, the batch goes on.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from services.runtime.ops.logging import Logger
from services.runtime.ops.tasks import cancel_and_wait

__all__ = [
    "BATCH_MAX",
    "FETCH_WAIT_S",
    "STALL_MARGIN_S",
    "AckFloor",
    "EventConsumer",
    "Position",
    "in_turn",
]

BATCH_MAX = 200
"""Most messages applied in one transaction; well under the consumer's ``max_ack_pending``."""
FETCH_WAIT_S = 1.0
"""How long one fetch waits on an empty consumer before asking again."""
RETRY_PAUSE_S = 0.5
STANDBY_PAUSE_S = 0.5
"""Between two asks of a consumer this process stands by on (:mod:`.turns`)."""
"""Pause after a failed fetch (NATS reconnecting, JetStream briefly unavailable)."""
TURN_POLL_S = (0.002, 0.005, 0.01, 0.02, 0.05)
"""Pauses between looks at the ack floor while a batch waits for its predecessors."""
STALL_MARGIN_S = 30.0
"""Beyond its fetch wait, how long the loop may go without fetching or handing over a batch
before readiness calls it stalled: room for one slow batch commit on a loaded database."""
WAITING_FETCH_S = 1.0
"""While a batch waits on predecessors: how often it fetches again (their redeliveries, or a
batch another replica handed back on stepping back)."""
HAND_BACK_HOLDS = 3
"""Holds without progress after which a waiting batch is handed back (``nak``), so that
replicas each holding some successors of a lost message do not wait on each other."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Position:
    """Where one delivered message stands: its stream sequence and this delivery's consumer
    sequence (a redelivery gets a new one)."""

    stream: int
    delivery: int


@dataclass(frozen=True, slots=True)
class AckFloor:
    """The consumer's ack floor: every message before it is acknowledged (or given up)."""

    stream: int
    delivery: int
    pending: int
    """Messages delivered to anyone and not yet acknowledged (``num_ack_pending``)."""


def in_turn(
    messages: Sequence[T], floor: AckFloor, position: Callable[[T], Position]
) -> tuple[list[T], list[T]]:
    """Split ``messages`` (in stream order) into those that may be applied now and those
    that must wait for a predecessor another replica holds.

    The consumer may be filtered (one partition), so its stream sequences have gaps. All
    may go when every unacknowledged message is in hand. Otherwise the first goes if it is
    next — right after the floor by stream sequence (acks move the floor over the gaps up
    to the first unacknowledged message) or by delivery (nothing delivered before it is
    unacknowledged) — and with it the ones delivered right after it, in one run.

    >>> p = lambda m: Position(*m)
    >>> in_turn([(5, 3), (7, 4)], AckFloor(4, 2, 2), p)  # all out are ours
    ([(5, 3), (7, 4)], [])
    >>> in_turn([(9, 5), (13, 6)], AckFloor(7, 4, 3), p)  # next by delivery; a later one is out
    ([(9, 5), (13, 6)], [])
    >>> in_turn([(11, 6)], AckFloor(7, 4, 2), p)  # 9 (delivery 5) is out with another
    ([], [(11, 6)])
    >>> in_turn([(9, 7), (13, 9)], AckFloor(8, 4, 3), p)  # 9 again: next by stream only
    ([(9, 7)], [(13, 9)])
    """
    if not messages:
        return [], []
    if floor.pending <= len(messages):
        return list(messages), []
    first = position(messages[0])
    if first.stream == floor.stream + 1:
        return list(messages[:1]), list(messages[1:])
    if first.delivery != floor.delivery + 1:
        return [], list(messages)
    run = 1
    while run < len(messages) and position(messages[run]).delivery == first.delivery + run:
        run += 1
    return list(messages[:run]), list(messages[run:])


def next_run(
    messages: Sequence[T], settled_through: int, position: Callable[[T], Position]
) -> list[T]:
    """The messages (in stream order) that follow, delivery after delivery, the one through
    which this process knows every delivery of the consumer settled: nobody else was given
    anything in between, so they are in turn without asking the server.

    >>> p = lambda m: Position(*m)
    >>> next_run([(9, 5), (13, 6), (20, 8)], 4, p)  # delivery 7 went to someone else
    [(9, 5), (13, 6)]
    >>> next_run([(9, 6)], 4, p)  # delivery 5 is out
    []
    """
    run: list[T] = []
    for message in messages:
        if position(message).delivery != settled_through + len(run) + 1:
            break
        run.append(message)
    return run


def settled_after(
    ready: Sequence[T], in_hand: int, floor: AckFloor, position: Callable[[T], Position]
) -> int | None:
    """The delivery through which every message of the consumer is settled once ``ready``
    (chosen by :func:`in_turn` from ``in_hand`` messages) is: all of them were every message
    out, or they follow the ack floor delivery after delivery. None when ``ready`` went on
    the stream sequence alone (a delivery before it may still be out with someone).

    >>> p = lambda m: Position(*m)
    >>> settled_after([(5, 3), (7, 4)], 2, AckFloor(4, 2, 2), p)  # all out were ours
    4
    >>> settled_after([(9, 5), (13, 6)], 2, AckFloor(7, 4, 3), p)  # next by delivery
    6
    >>> settled_after([(9, 7)], 2, AckFloor(8, 4, 3), p) is None  # next by stream only
    True
    """
    if not ready:
        return None
    deliveries = [position(m).delivery for m in ready]
    if floor.pending <= in_hand:
        return max(deliveries)
    if deliveries == list(range(floor.delivery + 1, floor.delivery + 1 + len(ready))):
        return deliveries[-1]
    return None


def _stream_seq(message: Msg) -> int:
    return int(message.metadata.sequence.stream)


def _position(message: Msg) -> Position:
    sequence = message.metadata.sequence
    return Position(int(sequence.stream), int(sequence.consumer))


class EventConsumer:
    """Fetch from one durable consumer and hand each batch to ``deliver``, one at a time."""

    def __init__(
        self,
        js: Callable[[], JetStreamContext],
        *,
        stream: str,
        durable: str,
        deliver: Callable[[list[Msg]], Awaitable[bool]],
        log: Logger,
        batch_max: int = BATCH_MAX,
        wait_s: float = FETCH_WAIT_S,
        in_stream_order: bool = False,
        hold_s: float = 6.0,
        touch_s: float = 2.0,
        on_fetched: Callable[[], None] | None = None,
        stall_margin_s: float = STALL_MARGIN_S,
        turn: Callable[[int], Awaitable[bool]] | None = None,
        on_turn: Callable[[bool], None] | None = None,
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
        self._turn = turn
        """Asked before each fetch whether this process reads the consumer now (told 0), and
        while a batch waits on messages another process holds (told 1; :mod:`.turns`); None:
        always."""
        self._on_turn = on_turn
        """Told whenever this process starts reading the consumer (True) or stands by."""
        self._reads: bool | None = None
        self._settled_through: int | None = None
        """In stream order: the delivery through which this process knows every delivery of
        its consumer settled for good (its own batches were all acknowledged or dead-lettered);
        a fetch that continues from it is in turn without a look at the ack floor."""
        self._handed_through = 0
        """The last delivery this process handed over, whatever became of it."""
        self._fetched_through = 0
        """The last delivery this process fetched: a later one on the consumer went to
        another process reading it now."""

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
        if self._turn is None:
            self._reads_now(True)
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
            if self._turn is not None and not await self._taking_turn():
                self._active()  # standing by is reading as intended, not a stall
                await asyncio.sleep(STANDBY_PAUSE_S)
                continue
            try:
                messages = self._fetched(
                    await self._subscription.fetch(self._batch_max, timeout=self._wait_s)
                )
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

    async def _keeps_turn(self) -> bool:
        """Met another reader while a batch waits on its messages: ask the turn at once
        (rather than after the batch), as each may hold what the other waits for — a
        redelivered message on a filtered consumer cannot prove it is next while another
        replica holds later ones. One that steps back hands its batch back."""
        if self._turn is None:
            return True
        try:
            return self._reads_now(await self._turn(1))
        except Exception as exc:  # NATS away for a moment: keep it, the order rule holds
            self._log.warning("could not tell whose turn it is; reading", error=repr(exc))
            return self._reads_now(True)

    async def _taking_turn(self) -> bool:
        assert self._turn is not None
        try:
            return self._reads_now(await self._turn(0))
        except Exception as exc:  # NATS away for a moment: read, the order rule still holds
            self._log.warning("could not tell whose turn it is; reading", error=repr(exc))
            return self._reads_now(True)

    def _reads_now(self, reads: bool) -> bool:
        """The turn's answer, passed on to ``on_turn`` when it changes (the reading gauge)."""
        if reads != self._reads:
            self._reads = reads
            if self._on_turn is not None:
                self._on_turn(reads)
        return reads

    async def _deliver_in_turn(self, messages: list[Msg]) -> None:
        """Hand over what is in turn; keep the rest alive and fetch their predecessors."""
        held = {_stream_seq(m): m for m in messages}
        now = time.monotonic()
        fetch_at, touch_at = now + WAITING_FETCH_S, now + self._touch_s
        hand_back_at = now + HAND_BACK_HOLDS * self._hold_s
        pauses = iter(TURN_POLL_S)
        ask_turn_at = now  # when a wait on another reader's messages asks the turn again
        while held:
            in_hand = sorted(held.values(), key=_stream_seq)
            if self._settled_through is not None and (
                ready := next_run(in_hand, self._settled_through, _position)
            ):
                settled_through: int | None = _position(ready[-1]).delivery
            else:
                info = await self._js().consumer_info(self._stream, self._durable)
                floor = AckFloor(
                    info.ack_floor.stream_seq or 0 if info.ack_floor else 0,
                    info.ack_floor.consumer_seq or 0 if info.ack_floor else 0,
                    info.num_ack_pending or 0,
                )
                ready, waiting = in_turn(in_hand, floor, _position)
                settled_through = settled_after(ready, len(in_hand), floor, _position)
                # a predecessor is out with another process, unless the floor has not yet
                # passed what this one settled (acks are not confirmed; a nak'd message)
                # ... and it reads the consumer now: it was given deliveries after this
                # one's last fetch (a lone reader waiting on its own earlier deliveries, cut
                # off by a restart, must not hand back and spend their deliveries)
                delivered = int(info.delivered.consumer_seq or 0) if info.delivered else 0
                contended = (
                    not ready
                    and floor.delivery >= self._handed_through
                    and delivered > self._fetched_through
                )
                if contended and time.monotonic() >= ask_turn_at:
                    ask_turn_at = time.monotonic() + self._hold_s
                    if not await self._keeps_turn():
                        # the other reader fetches these at its next look, and goes on
                        # with every message out in hand
                        for message in waiting:
                            await message.nak()
                        return
            if ready:
                for message in ready:
                    del held[_stream_seq(message)]
                self._handed_through = max(
                    self._handed_through, *(_position(m).delivery for m in ready)
                )
                self._settled_through = None  # until this batch is settled
                if await self._deliver(ready):
                    self._settled_through = settled_through
                self._active()  # a batch waiting on predecessors is progress, not a stall
                pauses = iter(TURN_POLL_S)
                hand_back_at = time.monotonic() + HAND_BACK_HOLDS * self._hold_s
                continue
            now = time.monotonic()
            if self._stopping.is_set() or now >= hand_back_at:
                if not self._stopping.is_set():  # e.g. two replicas each holding successors
                    self._log.info("no progress; handing the batch back", ack_floor=floor.stream)
                for message in waiting:
                    await message.nak()
                return
            if now >= touch_at:
                for message in waiting:  # still ours: not redelivered, no delivery spent
                    await message.in_progress()
                touch_at = now + self._touch_s
            if now >= fetch_at:
                more = await self._fetch_more(2 * self._batch_max - len(held))
                if more:
                    self._log.info(
                        "predecessors out elsewhere; fetched more",
                        first=_stream_seq(waiting[0]),
                        ack_floor=floor.stream,
                        fetched=len(more),
                    )
                for message in more:
                    held[_stream_seq(message)] = message  # the newest delivery is the one to ack
                # ask again at once while predecessors keep coming back (a dead replica's
                # whole batch, redeliveries first) or there is room; otherwise soon: a replica
                # that stepped back hands its batch back at once
                again = more and (
                    len(held) < 2 * self._batch_max
                    or min(map(_stream_seq, more)) < _stream_seq(waiting[0])
                )
                fetch_at = time.monotonic() + (0.0 if again else WAITING_FETCH_S)
                continue
            await asyncio.sleep(next(pauses, TURN_POLL_S[-1]))

    def _fetched(self, messages: list[Msg]) -> list[Msg]:
        if messages:
            self._fetched_through = max(
                self._fetched_through, *(_position(m).delivery for m in messages)
            )
        return messages

    async def _fetch_more(self, room: int) -> list[Msg]:
        """Up to ``room`` messages due now (redeliveries come first), without waiting long."""
        assert self._subscription is not None
        try:
            return self._fetched(
                await self._subscription.fetch(max(1, room), timeout=TURN_POLL_S[-1] * 4)
            )
        except (NatsTimeoutError, TimeoutError):
            return []
