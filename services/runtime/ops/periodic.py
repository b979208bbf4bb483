"""The one background loop of the runtime: a step run now and then every interval.

Every service's background work (the outbox relay, the coordinator's deadline watch,
warning chaser and audit anchors, customs' clock watch, the gateway's webhook calls) is a
:class:`PeriodicTask`, so they all fail, beat and stop the same way: a failed round is logged
and counted, and the next round tries again; each round ends with a heartbeat
(``ipbus_loop_heartbeat_timestamp_seconds``) that readiness and an alert watch, so a loop
that died or hangs is seen, not just the process around it.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from services.runtime.ops.logging import Logger
from services.runtime.ops.metrics import AgencyMetrics
from services.runtime.ops.tasks import cancel_and_wait

__all__ = ["STALE_FLOOR_S", "STALE_INTERVALS", "PeriodicTask"]

STALE_INTERVALS = 3
"""A loop that has not beaten for this many intervals is stalled (readiness fails)."""
STALE_FLOOR_S = 10.0
"""...but never sooner than this: one slow round on a loaded machine is not a dead loop."""


class PeriodicTask:
    """Run ``step`` at start and then every ``interval_s`` (sooner on :meth:`wake`).

    ``before_first`` runs once before the first round (e.g. wait for a backlog to be read);
    it may call :meth:`beat` while it waits. A failed round waits the full interval before
    the next, whatever wakes it, so an outage does not turn into a hot loop.

    :meth:`stop` cancels the loop *and* tells it to stop: on Python 3.11 a cancellation
    that meets a finishing ``asyncio.wait_for`` (inside nats-py's request, a driver) is
    swallowed, and a loop relying on the cancellation alone ran on past its service's stop.
    """

    def __init__(
        self,
        step: Callable[[], Awaitable[object]],
        log: Logger,
        *,
        interval_s: float,
        name: str,
        metrics: AgencyMetrics | None = None,
        before_first: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._step = step
        self._log = log
        self._metrics = metrics
        self._before_first = before_first
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_beat: float | None = None
        """``time.monotonic()`` of the last beat; None until started."""

    @property
    def stale_after_s(self) -> float:
        return max(STALE_INTERVALS * self.interval_s, STALE_FLOOR_S)

    def start(self) -> None:
        if self._metrics is not None:
            self._metrics.loop_interval(self.name, self.interval_s)
        self.beat()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)
        self._task.add_done_callback(self._ended)

    def wake(self) -> None:
        """Run the next round now (after commit, or when a test moved time forward)."""
        self._wake.set()

    def beat(self) -> None:
        """The loop is alive: called after each round, and by long rounds as they go."""
        self._last_beat = time.monotonic()
        if self._metrics is not None:
            self._metrics.loop_beat(self.name)

    def stalled(self) -> str | None:
        """Why this loop is not running (for readiness), or None while it beats."""
        if self._task is None:
            return "not started"
        if self._task.done():
            return "stopped"
        assert self._last_beat is not None
        silent_s = time.monotonic() - self._last_beat
        if silent_s > self.stale_after_s:
            return f"no heartbeat for {silent_s:.0f} s (interval {self.interval_s:g} s)"
        return None

    async def stop(self) -> None:
        """Cancel the loop and wait for it; a cancellation of the caller still propagates."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True  # seen at the end of the round, if the cancellation is lost
        self._wake.set()
        await cancel_and_wait(task)

    async def _run(self) -> None:
        if self._before_first is not None:
            await self._before_first()
        while not self._stopping:
            failed = False
            try:
                await self._step()
            except Exception:  # nothing was committed for the failed item; next round retries
                failed = True
                self._log.exception("background round failed; retrying", loop=self.name)
                if self._metrics is not None:
                    self._metrics.loop_failed(self.name)
            self.beat()
            if self._stopping:
                return
            if failed:
                await asyncio.sleep(self.interval_s)
            else:
                # asyncio.timeout, not wait_for: on 3.11 wait_for returns instead of raising
                # when a stop's cancellation meets a wake-up, and the loop would run on
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval_s):
                        await self._wake.wait()
            self._wake.clear()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("background loop died", loop=self.name, error=repr(task.exception()))
