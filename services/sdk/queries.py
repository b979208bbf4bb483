"""Asking the coordinator: the client side of ``ipbus.query.<requester>.<query>``.

One request/reply shape serves every query; :func:`ask_coordinator` is typed by the reply
model, and the three named queries are thin calls to it.
"""

from typing import TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel

from contracts.queries import CASE_QUERY, CaseQuery, CaseReply
from contracts.referral_queries import REFERRALS_QUERY, ReferralsQuery, ReferralsReply
from contracts.subjects import query_subject
from contracts.warning_queries import WARNINGS_QUERY, WarningsQuery, WarningsReply
from services.runtime.bus import RetryableError

__all__ = ["ask_coordinator", "query_case", "query_referrals", "query_warnings"]

Reply = TypeVar("Reply", bound=BaseModel)


async def ask_coordinator(
    nc: Client,
    *,
    requester: str,
    query: str,
    request: BaseModel,
    reply_type: type[Reply],
    wait_s: float = 5.0,
    to: str | None = None,
) -> Reply:
    """The coordinator's answer to ``query`` for ``requester``, parsed as ``reply_type``;
    ``to``: one replica's token (an upload it holds), else whichever replica takes it.

    :class:`RetryableError` when nobody answers within ``wait_s``.
    """
    subject = query_subject(requester, query)
    if to is not None:
        if not to.isalpha() or not to.islower():
            raise ValueError(f"replica token {to!r} is not lower-case letters")
        subject = f"{subject}.{to}"
    try:
        reply = await nc.request(subject, request.model_dump_json().encode(), timeout=wait_s)
    except (NoRespondersError, NatsTimeout) as exc:
        raise RetryableError(f"the coordinator did not answer a {query} query ({exc!r})") from exc
    return reply_type.model_validate_json(reply.data)


async def query_case(nc: Client, *, requester: str, case_id: str, wait_s: float = 5.0) -> CaseReply:
    """The case as ``requester`` may see it; :class:`RetryableError` when nobody answers."""
    request = CaseQuery(case_id=case_id)
    return await ask_coordinator(
        nc,
        requester=requester,
        query=CASE_QUERY,
        request=request,
        reply_type=CaseReply,
        wait_s=wait_s,
    )


async def query_referrals(
    nc: Client, *, requester: str, overdue_only: bool = False, wait_s: float = 5.0
) -> ReferralsReply:
    """The deadlines ``requester`` is party to; :class:`RetryableError` when nobody answers."""
    request = ReferralsQuery(overdue_only=overdue_only)
    return await ask_coordinator(
        nc,
        requester=requester,
        query=REFERRALS_QUERY,
        request=request,
        reply_type=ReferralsReply,
        wait_s=wait_s,
    )


async def query_warnings(
    nc: Client, *, requester: str, include_inactive: bool = False, wait_s: float = 5.0
) -> WarningsReply:
    """The warnings ``requester`` may see; :class:`RetryableError` when nobody answers."""
    request = WarningsQuery(include_inactive=include_inactive)
    return await ask_coordinator(
        nc,
        requester=requester,
        query=WARNINGS_QUERY,
        request=request,
        reply_type=WarningsReply,
        wait_s=wait_s,
    )
