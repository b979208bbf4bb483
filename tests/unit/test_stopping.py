"""Stopping: a caller's cancellation is never swallowed, a service that will not stop
is never hidden."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI

from services.cli.catalogue import CATALOGUE
from services.runtime.identity import Settings
from services.runtime.ops import PeriodicTask, StopFailed, cancel_and_wait
from services.runtime.server import free_port
from services.sdk import Bus, HttpServer, wiring


async def test_cancel_and_wait_ends_the_task() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_the_callers_own_cancellation_is_raised_not_swallowed() -> None:
    """The task takes a while to wind down; the caller is cancelled meanwhile."""
    wound_down = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.2)
            wound_down.set()

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0.05)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert stopper.cancelled()
    await asyncio.wait_for(wound_down.wait(), 5)


async def test_an_error_the_task_ended_with_is_raised() -> None:
    async def broken() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("broke while stopping") from None

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="broke while stopping"):
        await cancel_and_wait(task)


async def test_a_loop_woken_as_it_is_stopped_stops() -> None:
    """On 3.11, ``wait_for`` returns instead of raising when the cancellation of a stop
    meets a wake-up (a commit), so a loop waiting on it went on running: the relay that
    outlived its service."""
    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    loop = PeriodicTask(step, structlog.get_logger(), interval_s=60, name="woken-at-stop")
    loop.start()
    await ran.wait()
    await asyncio.sleep(0)  # waiting for its next round
    loop.wake()
    await asyncio.wait_for(loop.stop(), 5)


class _Stuck:
    """A service whose stop never completes."""

    def __init__(self) -> None:
        self.log: Any = _Log()

    async def stop(self) -> None:
        await asyncio.sleep(60)


class _Stops:
    def __init__(self) -> None:
        self.log: Any = _Log()
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


class _Log:
    def error(self, *args: object, **kwargs: object) -> None:
        pass

    def exception(self, *args: object, **kwargs: object) -> None:
        pass


async def test_a_service_that_does_not_stop_fails_the_bus_stop_after_the_others_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "SERVICE_STOP_TIMEOUT_S", 0.1)
    bus = Bus(Settings(data_dir=tmp_path), CATALOGUE)
    other = _Stops()
    bus.services.update({"amr-shanghai": other, "coordinator": _Stuck()})  # type: ignore[dict-item]
    with pytest.raises(StopFailed, match="coordinator: did not stop"):
        await bus.stop()
    assert other.stopped
    assert bus.services == {}


async def test_a_port_taken_is_an_error_of_start_not_the_end_of_the_event_loop() -> None:
    """uvicorn ``sys.exit``s when it cannot bind; out of a task that would end every service
    and test on the loop (the CI run whose gateway lost its port to another socket)."""
    first = HttpServer(FastAPI(), host="127.0.0.1", port=free_port(), name="first")
    await first.start()
    second = HttpServer(FastAPI(), host="127.0.0.1", port=first.port, name="second")
    try:
        with pytest.raises(OSError, match="second could not serve"):
            await second.start()
    finally:
        await first.stop()
    await second.stop()  # ended already: nothing to stop, nothing raised
