"""Replay: an event is fresh if its time is within the window of when the stream stored it."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import EnvelopeRejected, Event, RejectReason
from contracts.identifiers import new_ulid
from services.runtime.replay import check_fresh
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
