"""Replay: a validly signed event sent again long after it was made.

A signature proves who made an event, not when it was sent. An attacker who captured a
signed event could publish it again later. ipbus calls an event *replayed* when its
``time`` is older than the replay window at the moment JetStream **stored** it (or further
in the future than the allowed clock skew). Comparing with the stream's timestamp, not
the reader's clock, means a consumer catching up after days offline still accepts every
event that was fresh when it was published.

A re-publication inside the window is absorbed by the inbox: the same content is
``ALREADY_APPLIED`` (no effect), different content under the same id is ``CONFLICTING``
(dead-lettered).
"""

from datetime import datetime, timedelta

from contracts.envelope import EnvelopeRejected, Event, RejectReason
from services.runtime.bus.clock import Clock

__all__ = ["check_fresh", "stored_on_clock"]


def stored_on_clock(stored_at: datetime, clock: Clock) -> datetime:
    """When the stream stored an event, read on the service's clock.

    JetStream stamps a message with wall time; an event's ``time`` is the sender's clock.
    On the wall clock (production) the two agree and ``stored_at`` is returned as it is;
    under a simulated clock (tests) it is what that clock read at that wall time, so the
    freshness check keeps comparing like with like instead of being switched off — and an
    event stored before the clock was moved forward is still judged as of when it was
    stored, however long it waited for its consumer.
    """
    return clock.read_at(stored_at)


def check_fresh(event: Event, stored_at: datetime, *, window_s: float, skew_s: float) -> None:
    """Raise ``EnvelopeRejected(REPLAYED)`` unless ``event`` was fresh when stored."""
    made = event.envelope.time
    if made < stored_at - timedelta(seconds=window_s):
        raise EnvelopeRejected(
            RejectReason.REPLAYED,
            f"event {event.id} was made at {made.isoformat()} but stored at "
            f"{stored_at.isoformat()}, more than {window_s:.0f}s later",
        )
    if made > stored_at + timedelta(seconds=skew_s):
        raise EnvelopeRejected(
            RejectReason.REPLAYED,
            f"event {event.id} claims a time ({made.isoformat()}) more than {skew_s:.0f}s "
            f"after it was stored ({stored_at.isoformat()})",
        )
