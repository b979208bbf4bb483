"""Stream retention from policy ``[streams]``: IPBUS and IPBUS_DLQ get age and size limits,
the dead letters kept longer; an existing unlimited stream is brought up to them."""

from pathlib import Path

import nats
import pytest

from contracts.subjects import DLQ_STREAM, EVENT_STREAM
from services.runtime.bus import ConfigurationError, StreamLayout, StreamRetention
from services.runtime.identity import Settings
from services.runtime.law import load_policy, policy_section
from services.runtime.server import EmbeddedNatsServer, free_port
from services.sdk import provision_streams, stream_layout
from tests.conftest import DEPLOYED_POLICY, write_policy

pytestmark = pytest.mark.integration

DAY_S = 86_400
GIB = 1024**3


async def test_the_streams_get_the_policys_limits_and_the_dlq_is_kept_longer(
    tmp_path: Path,
) -> None:
    settings = Settings(policy_path=DEPLOYED_POLICY, data_dir=tmp_path)
    policy = policy_section(load_policy(settings.policy_path), "streams", StreamRetention)
    async with EmbeddedNatsServer(tmp_path / "nats", port=free_port()) as server:
        await provision_streams(server.url, StreamLayout())  # as before: unlimited
        await provision_streams(server.url, stream_layout(settings))  # updated in place
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            events = (await js.stream_info(EVENT_STREAM)).config
            dead = (await js.stream_info(DLQ_STREAM)).config
        finally:
            await nc.close()
    assert events.max_age == policy.events_max_age_days * DAY_S
    assert events.max_bytes == int(policy.events_max_gib * GIB)
    assert dead.max_age == policy.dead_letters_max_age_days * DAY_S
    assert dead.max_bytes == int(policy.dead_letters_max_gib * GIB)
    assert (dead.max_age or 0) > (events.max_age or 0)


def test_a_policy_that_keeps_dead_letters_shorter_is_refused(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path, replace={"dead_letters_max_age_days = 180": "dead_letters_max_age_days = 7"}
    )
    with pytest.raises(ConfigurationError, match="dead letters"):
        stream_layout(Settings(policy_path=path))
