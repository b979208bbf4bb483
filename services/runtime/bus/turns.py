"""Which coordinator replica reads which partition, decided by the consumers themselves.

Every replica has a consumer loop on every partition (``coordinator-p<i>``), but a partition
is read fast by one replica at a time: two replicas fetching from one partition's consumer
take turns at its ack floor, message by message (measured: ingest fell from ~2,700 to
~130 events/s with two replicas on four partitions). So each loop asks
:class:`PartitionTurn` before it fetches:

* a replica **reads** a partition it prefers (``IPBUS_COORDINATOR_PARTITIONS``; none set:
  it prefers none and starts reading all). One that is not preferred and finds another
  replica holding its predecessors (a batch waits for messages out elsewhere) steps back,
  on the toss of a coin, handing that batch back, so two contenders settle on one in a few
  tosses;
* a replica **stands by** on the others, and takes one over only when the consumer shows
  that nobody reads it: work pending and neither a delivery nor an acknowledgement for
  ``takeover_s``. A replica that died stops fetching; JetStream redelivers what it held
  (after the first backoff) to the one that takes over.

An agency's service reads its one consumer the same way: every replica starts reading,
those that meet settle by coin, the others stand by.

No replica talks to another and nothing is elected: the consumer's own delivered and
acknowledged sequences say whether someone reads it. A wrong guess costs speed, never
order (the ack-floor rule of :mod:`services.runtime.bus.consumer` holds either way).
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.js import JetStreamContext

from services.runtime.ops.logging import Logger

__all__ = ["CONTENTION_STEP_BACK", "TAKEOVER_S", "ConsumerSeen", "PartitionTurn", "nobody_reads"]

TAKEOVER_S = 3.0
"""How long a partition may show work and no progress before a standing-by replica takes
it: far longer than one batch takes (a wrong guess only makes two replicas meet, and one
steps back), short because it is also how long a partition both replicas stepped back
from at once goes unread."""
LOOK_EVERY_S = 0.5
"""How often a standing-by replica looks at the partition's consumer."""
CONTENTION_STEP_BACK = 0.5
"""The chance that a replica meeting another on a partition it does not prefer steps back."""


@dataclass(frozen=True, slots=True)
class ConsumerSeen:
    """What a look at a consumer says about who reads it."""

    backlog: int
    """Messages not yet delivered, plus delivered and not yet acknowledged."""
    progress: tuple[int, int]
    """Its last delivery and its ack floor (consumer sequences): moving while it is read."""


def nobody_reads(
    seen: ConsumerSeen, before: ConsumerSeen | None, quiet_since: float | None, now: float
) -> float | None:
    """Since when the consumer has had work and no progress (None: it is read, or idle).

    >>> nobody_reads(ConsumerSeen(5, (9, 4)), ConsumerSeen(5, (9, 4)), 100.0, 112.0)
    100.0
    >>> nobody_reads(ConsumerSeen(5, (10, 4)), ConsumerSeen(5, (9, 4)), 100.0, 112.0) is None
    True
    >>> nobody_reads(ConsumerSeen(0, (9, 9)), ConsumerSeen(0, (9, 9)), 100.0, 112.0) is None
    True
    """
    if seen.backlog == 0 or before is None or seen.progress != before.progress:
        return None
    return quiet_since if quiet_since is not None else now


class PartitionTurn:
    """Whether this replica reads one partition's consumer now (see the module doc)."""

    def __init__(
        self,
        js: Callable[[], JetStreamContext],
        *,
        stream: str,
        durable: str,
        preferred: bool,
        starts_reading: bool,
        log: Logger,
        takeover_s: float = TAKEOVER_S,
        look_every_s: float = LOOK_EVERY_S,
        coin: Callable[[], float] = random.random,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self.preferred = preferred
        """Never stepped back from (configured); a standing-by partition may be taken over."""
        self.reading = starts_reading
        self._log = log.bind(consumer=durable)
        self._takeover_s = takeover_s
        self._look_every_s = look_every_s
        self._coin = coin
        self._next_look = 0.0
        self._seen: ConsumerSeen | None = None
        self._quiet_since: float | None = None

    async def may_read(self, contended: int) -> bool:
        """Before each fetch (``contended`` 0), and while a batch waits on messages another
        replica holds (``contended`` 1: step back on the coin)."""
        if self.reading:
            if contended and not self.preferred and self._coin() < CONTENTION_STEP_BACK:
                self._stand_by("another replica reads it too; standing by")
            return self.reading
        now = time.monotonic()
        if now < self._next_look:
            return False
        self._next_look = now + self._look_every_s
        info = await self._js().consumer_info(self._stream, self._durable)
        seen = ConsumerSeen(
            int((info.num_pending or 0) + (info.num_ack_pending or 0)),
            (
                int(info.delivered.consumer_seq or 0) if info.delivered else 0,
                int(info.ack_floor.consumer_seq or 0) if info.ack_floor else 0,
            ),
        )
        self._quiet_since = nobody_reads(seen, self._seen, self._quiet_since, now)
        self._seen = seen
        if self._quiet_since is not None and now - self._quiet_since >= self._takeover_s:
            self.reading = True
            self._log.warning(
                "nobody reads this partition; taking it over",
                backlog=seen.backlog,
                quiet_s=round(now - self._quiet_since, 1),
            )
        return self.reading

    def _stand_by(self, why: str) -> None:
        self.reading = False
        self._seen = None
        self._quiet_since = None
        self._next_look = 0.0
        self._log.info(why)
