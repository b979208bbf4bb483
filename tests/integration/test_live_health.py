"""Live health (issue 17 part 4): readiness sees a background loop that stopped beating and
a consumer loop that stopped fetching, on a real bus, and the heartbeats are exported."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.subjects import COORDINATOR
from services.coordinator.app import CoordinatorService
from services.runtime.ops import periodic
from services.runtime.server import free_port
from services.sdk import Bus, HttpServer, build_http_app
from tests.integration.wire import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("database_url", [None])]

CUSTOMS = "customs-shanghai"


@pytest.fixture
async def client(bus: Bus) -> AsyncIterator[httpx.AsyncClient]:
    server = HttpServer(
        build_http_app(bus.services, bus.metrics.registry), host="127.0.0.1", port=free_port()
    )
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        await server.stop()


async def _verdicts(client: httpx.AsyncClient) -> tuple[int, dict[str, dict[str, object]]]:
    answer = await client.get("/readyz")
    return answer.status_code, {s["agency"]: s for s in answer.json()["services"]}


async def _not_ready(client: httpx.AsyncClient, agency: str, check: str, says: str) -> None:
    async def failed() -> bool:
        code, verdicts = await _verdicts(client)
        return code == 503 and says in str(verdicts[agency][check])

    await wait_until(failed, timeout_s=20, what=f"{agency} {check}: {says}")


@pytest.mark.timeout(90)
async def test_every_loop_beats_and_a_hung_relay_fails_readiness(
    bus: Bus, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, verdicts = await _verdicts(client)
    assert code == 200, verdicts
    assert all(v["loops"] == "ok" for v in verdicts.values())
    metrics = (await client.get("/metrics")).text
    for loop in ("outbox-relay", "deadline-watch", "warning-chaser", "audit-anchors"):
        beat = f'ipbus_loop_heartbeat_timestamp_seconds{{agency="coordinator",loop="{loop}"}}'
        assert beat in metrics, loop
    assert 'loop="customs-clock-watch"' in metrics
    assert 'ipbus_consumer_last_fetch_timestamp_seconds{agency="customs-shanghai"' in metrics

    monkeypatch.setattr(periodic, "STALE_FLOOR_S", 1.0)  # three relay polls of 0.2 s, or 1 s
    customs = bus.services[CUSTOMS]
    assert customs._relay is not None
    hang = asyncio.Event()

    async def relay_hangs() -> int:
        await hang.wait()  # e.g. a database call that never returns
        return 0

    monkeypatch.setattr(customs._relay, "relay_once", relay_hangs)
    customs._relay.wake()
    await _not_ready(client, CUSTOMS, "loops", "outbox-relay: no heartbeat")
    code, verdicts = await _verdicts(client)
    assert verdicts[COORDINATOR]["ready"] is True  # only the hung service is not ready
    assert verdicts[CUSTOMS]["nats"] == verdicts[CUSTOMS]["database"] == "ok"

    hang.set()  # it answers again: the next round beats, and readiness comes back
    monkeypatch.undo()

    async def ready_again() -> bool:
        return (await _verdicts(client))[0] == 200

    await wait_until(ready_again, timeout_s=20, what="ready after the relay came back")


@pytest.mark.timeout(90)
async def test_a_stopped_loop_and_a_consumer_that_no_longer_fetches_fail_readiness(
    bus: Bus, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    coordinator = bus.services[COORDINATOR]
    assert isinstance(coordinator, CoordinatorService)
    task = coordinator.chaser._task
    assert task is not None
    task.cancel()  # the loop is gone, the process (and its other loops) live on
    await _not_ready(client, COORDINATOR, "loops", "warning-chaser: stopped")

    customs = bus.services[CUSTOMS]
    (consumer,) = customs._consumers  # an agency reads through one durable consumer
    monkeypatch.setattr(consumer, "_stall_after_s", 1.5)  # a 1 s wait + 0.5 s
    subscription = consumer._subscription
    assert subscription is not None

    async def fetch_hangs(*args: object, **kwargs: object) -> list[object]:
        await asyncio.Event().wait()  # bound on the server, read by nobody
        return []

    monkeypatch.setattr(subscription, "fetch", fetch_hangs)
    await _not_ready(client, CUSTOMS, "consumer", "no fetch for")
    fetching = consumer._task
    assert fetching is not None
    fetching.cancel()
    await _not_ready(client, CUSTOMS, "consumer", "consumer loop stopped")
