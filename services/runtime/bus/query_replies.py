"""Query answers go to an inbox, never into the event stream.

A request's reply subject is chosen by whoever asks. Without this check, an agency that
sent a query with reply subject ``ipbus.v1.coordinator.…`` would have the coordinator
publish its answer there, into stream ``IPBUS``, under the coordinator's own name (the
coordinator may publish to ``ipbus.v1.coordinator.>``, so no permission stops it).
Every service's broker carries :class:`InboxRepliesOnly` (wired in
:mod:`services.sdk.wiring`): a request whose reply subject is not an inbox is
dropped unanswered, and logged.
"""

from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage

from services.runtime.ops.logging import get_logger
from services.runtime.server.nats_config import is_inbox

__all__ = ["InboxRepliesOnly"]


class InboxRepliesOnly(BaseMiddleware):
    """Refuse to handle (and so to answer) a request whose reply subject is not an inbox."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        reply = msg.reply_to
        if reply and not is_inbox(reply):
            get_logger("queries", "-").warning(
                "request refused: its reply subject is not an inbox",
                subject=getattr(msg.raw_message, "subject", "?"),
                reply_subject=reply[:200],
            )
            msg.reply_to = ""  # nothing is published
            return None
        return await call_next(msg)
