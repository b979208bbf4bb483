"""The runtime's one background loop: it survives a failing round (logged, counted), beats,
wakes early, is seen stalled, and stops without swallowing its caller's cancellation."""

import asyncio
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from services.runtime.ops import IpbusMetrics, Logger, PeriodicTask, periodic


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def exception(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))

    error = exception


def _logger(log: _Log) -> Logger:
    """The fake where a logger goes: PeriodicTask calls only ``exception`` and ``error``."""
    return cast(Logger, log)


def _sample(registry: CollectorRegistry, name: str, loop: str) -> float | None:
    return registry.get_sample_value(name, {"agency": "customs-shanghai", "loop": loop})


async def test_a_failing_round_is_logged_counted_and_the_loop_goes_on() -> None:
    registry = CollectorRegistry()
    metrics = IpbusMetrics(registry).for_agency("customs-shanghai")
    log, rounds = _Log(), asyncio.Queue[int]()
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        await rounds.put(calls)
        if calls == 1:
            raise RuntimeError("database gone")

    loop = PeriodicTask(step, _logger(log), interval_s=0.01, name="clock-watch", metrics=metrics)
    loop.start()
    try:
        assert await asyncio.wait_for(rounds.get(), 5) == 1
        assert await asyncio.wait_for(rounds.get(), 5) == 2  # the loop outlived the failure
    finally:
        await loop.stop()
    assert log.lines[0] == ("background round failed; retrying", {"loop": "clock-watch"})
    assert _sample(registry, "ipbus_loop_failures_total", "clock-watch") == 1.0
    assert _sample(registry, "ipbus_loop_interval_seconds", "clock-watch") == 0.01
    assert (_sample(registry, "ipbus_loop_heartbeat_timestamp_seconds", "clock-watch") or 0) > 0
    assert loop.stalled() == "not started"  # stopped: readiness no longer counts it as running


async def test_wake_runs_the_next_round_now() -> None:
    rounds = asyncio.Queue[None]()

    async def step() -> None:
        await rounds.put(None)

    loop = PeriodicTask(step, _logger(_Log()), interval_s=3600, name="deadline-watch")
    loop.start()
    try:
        await asyncio.wait_for(rounds.get(), 5)  # the first round runs at start
        loop.wake()
        await asyncio.wait_for(rounds.get(), 5)  # not an hour later
    finally:
        await loop.stop()


async def test_a_hanging_round_is_stalled_and_a_dead_loop_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(periodic, "STALE_FLOOR_S", 0.05)
    started = asyncio.Event()

    async def hangs() -> None:
        started.set()
        await asyncio.Event().wait()

    loop = PeriodicTask(hangs, _logger(_Log()), interval_s=0.01, name="outbox-relay")
    loop.start()
    await asyncio.wait_for(started.wait(), 5)
    assert loop.stalled() is None  # it just beat at start
    await asyncio.sleep(0.1)
    assert (loop.stalled() or "").startswith("no heartbeat for")
    assert loop._task is not None
    loop._task.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert loop.stalled() == "stopped"
    await loop.stop()


async def test_stop_does_not_swallow_the_callers_own_cancellation() -> None:
    release = asyncio.Event()

    async def step() -> None:
        await asyncio.sleep(0)

    loop = PeriodicTask(step, _logger(_Log()), interval_s=3600, name="audit-anchors")
    loop.start()
    await asyncio.sleep(0.01)
    assert loop._task is not None
    inner = loop._task

    async def shielded_round() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # a round that takes time to unwind
            raise

    inner.cancel()  # replace the loop's task by one that unwinds slowly
    loop._task = asyncio.create_task(shielded_round())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(loop.stop())
    await asyncio.sleep(0.01)
    stopping.cancel()  # whoever stops the loop is cancelled meanwhile (e.g. shutdown timeout)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await stopping


@pytest.mark.timeout(10)
async def test_a_round_that_swallows_its_cancellation_still_ends_the_loop_at_stop() -> None:
    """What Python 3.11's ``wait_for`` does when a PubAck and the stop arrive together: the
    cancellation is lost inside the round. The loop must still end at the round's end, not
    run on (it once kept relaying an outbox into a dropped schema after its service stopped)."""
    started, rounds = asyncio.Event(), 0

    async def step() -> None:
        nonlocal rounds
        rounds += 1
        started.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # swallowed, as wait_for may, and the round finishes

    loop = PeriodicTask(step, _logger(_Log()), interval_s=0.01, name="relay")
    loop.start()
    await started.wait()
    await asyncio.wait_for(loop.stop(), 2)  # it used to loop forever: a new round each 10 ms
    assert rounds == 1
