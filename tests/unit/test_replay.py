"""Replay: an event is fresh if its time is within the window of when the stream stored it."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import EnvelopeRejected, Event, RejectReason
from contracts.identifiers import new_ulid
from services.runtime.bus import FixedClock, SystemClock, check_fresh, stored_on_clock
from tests.unit.builders import decoded, envelope_for, goods_detained

STORED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WINDOW_S = 3600.0
SKEW_S = 300.0


def _event_made(at: datetime) -> Event:
    envelope = envelope_for(goods_detained(new_ulid()), case_id=new_ulid())
    return decoded(envelope.model_copy(update={"time": at}))


@pytest.mark.parametrize(
    ("made", "fresh"),
    [
        (STORED, True),
        (STORED - timedelta(seconds=WINDOW_S), True),
        (STORED - timedelta(seconds=WINDOW_S + 1), False),
        (STORED - timedelta(days=30), False),
        (STORED + timedelta(seconds=SKEW_S), True),
        (STORED + timedelta(seconds=SKEW_S + 1), False),
    ],
    ids=["now", "window-edge", "just-stale", "month-old", "skew-edge", "from-the-future"],
)
def test_freshness_against_the_stream_time(made: datetime, fresh: bool) -> None:
    event = _event_made(made)
    if fresh:
        check_fresh(event, STORED, window_s=WINDOW_S, skew_s=SKEW_S)
        return
    with pytest.raises(EnvelopeRejected) as refused:
        check_fresh(event, STORED, window_s=WINDOW_S, skew_s=SKEW_S)
    assert refused.value.reason is RejectReason.REPLAYED
    assert event.id in refused.value.detail


def test_a_simulated_clock_reads_the_stored_time_on_itself() -> None:
    """Under a test clock set a year back the check still runs: an event made on that
    clock is fresh, one made a month before it or on the wall clock is not."""
    clock_now = datetime.now(UTC) - timedelta(days=365)
    clock = FixedClock(clock_now)
    stored = stored_on_clock(datetime.now(UTC) - timedelta(seconds=2), clock)
    assert stored == clock_now

    check_fresh(_event_made(clock_now), stored, window_s=WINDOW_S, skew_s=SKEW_S)
    for made in (clock_now - timedelta(days=30), datetime.now(UTC)):
        with pytest.raises(EnvelopeRejected) as refused:
            check_fresh(_event_made(made), stored, window_s=WINDOW_S, skew_s=SKEW_S)
        assert refused.value.reason is RejectReason.REPLAYED


def test_an_event_stored_before_the_clock_moved_is_judged_as_of_then() -> None:
    """A message that waits for its consumer while a test moves the clock four days on is
    as fresh as when JetStream stored it (it was once dead-lettered as replayed)."""
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    clock = FixedClock(start)
    stored_at = datetime.now(UTC)  # JetStream stamps it, then the test moves the clock
    time.sleep(0.002)
    clock.advance(timedelta(days=4))
    between = datetime.now(UTC)  # stored after the first move, before the second
    time.sleep(0.002)
    clock.advance(timedelta(days=30))

    assert stored_on_clock(stored_at, clock) == start
    check_fresh(_event_made(start), stored_on_clock(stored_at, clock), window_s=60, skew_s=5)
    assert stored_on_clock(between, clock) == start + timedelta(days=4)
    assert stored_on_clock(datetime.now(UTC) + timedelta(days=1), clock) == clock.now()


def test_on_the_wall_clock_the_stored_time_is_the_streams() -> None:
    assert stored_on_clock(STORED, SystemClock()) == STORED
