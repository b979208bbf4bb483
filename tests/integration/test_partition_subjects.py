"""What the stream takes and where it files it (issue 18), on the real server.

A publisher names the case (the key); the stream names the partition. So the old
five-token subjects, and a publisher that names a partition itself, are refused at publish:
either would put an event where the coordinator's partition consumers do not look for it.
"""

import pytest
from nats.aio.client import Client
from nats.js.errors import NoStreamResponseError

from contracts.identifiers import new_ulid
from contracts.subjects import EVENT_STREAM, event_subject, parse_event_subject, stored_filter
from services.runtime.bus import coordinator_durables

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(f"ipbus.v1.{CUSTOMS}.coordinator.case.opened", id="unkeyed, as before"),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.coordinator.2.{new_ulid()}.case.opened", id="partition named"
        ),
        pytest.param(f"ipbus.v1.{CUSTOMS}.coordinator.{new_ulid()}.case", id="no verb"),
    ],
)
async def test_a_subject_of_another_shape_is_refused_at_publish(
    fresh_streams: str, subject: str
) -> None:
    nc = Client()
    await nc.connect(fresh_streams)
    try:
        with pytest.raises(NoStreamResponseError):
            await nc.jetstream().publish(subject, b"{}", timeout=1.0)
        assert (await nc.jetstream().stream_info(EVENT_STREAM)).state.messages == 0
    finally:
        await nc.close()


async def test_the_stream_files_every_event_of_a_case_under_one_partition(
    fresh_streams: str,
) -> None:
    nc = Client()
    await nc.connect(fresh_streams)
    try:
        js = nc.jetstream()
        cases = [new_ulid() for _ in range(40)]
        for case_id in cases:
            for event_type in ("case.opened", "case.status_changed"):
                await js.publish(event_subject(CUSTOMS, "coordinator", case_id, event_type), b"{}")
        stored = (await js.stream_info(EVENT_STREAM, subjects_filter=stored_filter())).state
        assert stored.messages == 2 * len(cases)
        partitions: dict[str, set[int | None]] = {}
        for subject in stored.subjects or {}:
            route = parse_event_subject(subject)
            partitions.setdefault(route.key, set()).add(route.partition)
        assert set(partitions) == set(cases)
        assert all(len(found) == 1 for found in partitions.values()), partitions
        used = set().union(*partitions.values())
        durables = await coordinator_durables(js)
        assert used <= set(range(len(durables)))
        assert len(used) > 1  # 40 cases over 4 partitions: spread, not all in one
    finally:
        await nc.close()
