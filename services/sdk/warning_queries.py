"""Asking the coordinator about warnings: the client of ``ipbus.query.<requester>.warnings``."""

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from contracts.subjects import query_subject
from contracts.warning_queries import WARNINGS_QUERY, WarningsQuery, WarningsReply
from services.runtime.bus import RetryableError

__all__ = ["query_warnings"]


async def query_warnings(
    nc: Client, *, requester: str, include_inactive: bool = False, wait_s: float = 5.0
) -> WarningsReply:
    """The warnings ``requester`` may see; :class:`RetryableError` when nobody answers."""
    request = WarningsQuery(include_inactive=include_inactive).model_dump_json().encode()
    try:
        reply = await nc.request(query_subject(requester, WARNINGS_QUERY), request, timeout=wait_s)
    except (NoRespondersError, NatsTimeout) as exc:
        raise RetryableError(f"the coordinator did not answer a warnings query ({exc!r})") from exc
    return WarningsReply.model_validate_json(reply.data)
