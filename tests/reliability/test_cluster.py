"""A real three-node JetStream cluster, streams with three replicas: kill -9 the node that
leads the event stream in the middle of the load; nothing is lost, services carry on."""

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import nats
import pytest

from contracts.subjects import EVENT_STREAM
from services.runtime.identity import Settings, server_list
from tests.reliability.cluster import LoopbackCluster
from tests.reliability.scenario import EVERY_SERVICE, Load, events_for, run_scenario

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[LoopbackCluster]:
    running = LoopbackCluster(tmp_path / "cluster")
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


async def _stream_leader(url: str) -> str:
    nc = await nats.connect(server_list(url))
    try:
        info = await nc.jetstream().stream_info(EVENT_STREAM)
    finally:
        await nc.close()
    assert info.config.num_replicas == 3
    assert info.cluster is not None
    assert info.cluster.leader is not None
    return info.cluster.leader


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_losing_the_stream_leader_of_a_three_node_cluster_loses_nothing(
    scenario_settings: Settings,
    cluster: LoopbackCluster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = scenario_settings.model_copy(update={"stream_replicas": 3})
    killed: list[str] = []

    async def kill_the_leader(load: Load) -> None:
        await load.reached(0.3)
        leader = await _stream_leader(cluster.url)
        await load.kill_in_flight(
            f"stream leader {leader}",
            EVERY_SERVICE,
            partial(cluster.nodes[leader].stop, kill=True),
            after=0.3,
        )
        killed.append(leader)

    tally, seconds, load = await run_scenario(
        settings, cluster.url, kill_the_leader, events=events_for(0.2)
    )
    with capsys.disabled():
        print(tally.report(f"3-node cluster, leader {killed} killed", seconds) + load.kill_report())
    assert killed
    assert all(state.busy for _, state in load.kills), load.kill_report()
    assert await _stream_leader(cluster.url) != killed[0]
    assert tally.surplus == 0, tally
    assert tally.lost == 0, tally
