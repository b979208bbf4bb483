"""Ending a background task without swallowing the caller's own cancellation."""

import asyncio
from typing import Any

__all__ = ["StopFailed", "cancel_and_wait"]


class StopFailed(RuntimeError):
    """Something did not stop (in time, or at all): part of it may leak."""


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended.

    ``suppress(CancelledError)`` around ``await task`` would also swallow a cancellation
    of the caller (a test's timeout, a shutdown), which must propagate: only the task's
    own cancellation, which we asked for, is expected here. An error the task ended with
    is raised.
    """
    task.cancel()
    await asyncio.wait([task])  # raises CancelledError only if *we* are cancelled
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error
