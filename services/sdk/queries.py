"""Asking the coordinator: the client side of ``ipbus.query.<requester>.<query>``."""

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from contracts.queries import CASE_QUERY, CaseQuery, CaseReply
from contracts.subjects import query_subject
from services.runtime.bus import RetryableError

__all__ = ["query_case"]


async def query_case(nc: Client, *, requester: str, case_id: str, wait_s: float = 5.0) -> CaseReply:
    """The case as ``requester`` may see it; :class:`RetryableError` when nobody answers."""
    request = CaseQuery(case_id=case_id).model_dump_json().encode()
    try:
        reply = await nc.request(query_subject(requester, CASE_QUERY), request, timeout=wait_s)
    except (NoRespondersError, NatsTimeout) as exc:
        raise RetryableError(f"the coordinator did not answer a case query ({exc!r})") from exc
    return CaseReply.model_validate_json(reply.data)
