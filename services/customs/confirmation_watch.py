"""Customs' clock watcher: a periodic task that acts on the clocks that ran out.

A background task (started with the service) asks every ``watch_seconds`` of wall time
which clocks have run out in business time; each lapsed detention is released in its own
transaction, and the clock is marked in the same one, so a restart never releases twice.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from services.runtime.tasks import cancel_and_wait

__all__ = ["PeriodicTask"]


class PeriodicTask:
    """Run ``step`` now and then every ``interval_s``; failures are logged and retried."""

    def __init__(
        self, step: Callable[[], Awaitable[int]], log: Any, *, interval_s: float, name: str
    ) -> None:
        self._step = step
        self._log = log
        self._interval_s = interval_s
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except Exception:  # nothing was committed for the failed item; next round retries
                self._log.exception(f"{self._name} failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
