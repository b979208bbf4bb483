"""Asking the coordinator for referral deadlines: ``ipbus.query.<requester>.referrals``."""

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from contracts.referral_queries import REFERRALS_QUERY, ReferralsQuery, ReferralsReply
from contracts.subjects import query_subject
from services.runtime.bus import RetryableError

__all__ = ["query_referrals"]


async def query_referrals(
    nc: Client, *, requester: str, overdue_only: bool = False, wait_s: float = 5.0
) -> ReferralsReply:
    """The deadlines ``requester`` is party to; :class:`RetryableError` when nobody answers."""
    request = ReferralsQuery(overdue_only=overdue_only).model_dump_json().encode()
    try:
        reply = await nc.request(query_subject(requester, REFERRALS_QUERY), request, timeout=wait_s)
    except (NoRespondersError, NatsTimeout) as exc:
        raise RetryableError(f"the coordinator did not answer a referrals query ({exc!r})") from exc
    return ReferralsReply.model_validate_json(reply.data)
