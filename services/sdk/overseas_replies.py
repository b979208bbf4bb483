"""Replies to queries, minimised for an overseas requester like any event sent abroad (§6)."""

from pydantic import BaseModel

from contracts.agencies import AgencyKind
from services.runtime.ops import AgencyMetrics
from services.runtime.privacy import minimise_reply, minimised_kinds, record_minimisations
from services.sdk.service import ServiceContext

__all__ = ["encode_reply", "is_overseas"]


def is_overseas(context: ServiceContext, agency_id: str) -> bool:
    registry = context.registry
    return agency_id in registry and registry.get(agency_id).kind is AgencyKind.OVERSEAS


async def encode_reply(
    context: ServiceContext,
    metrics: AgencyMetrics,
    *,
    requester: str,
    query: str,
    reply: BaseModel,
) -> bytes:
    """The reply's JSON; minimised, recorded (as ``query.<query>``) and counted first when
    ``requester`` is an overseas agency."""
    if is_overseas(context, requester):
        reply, actions = minimise_reply(reply, context.pseudonym_key)
        if actions:
            async with context.database.transaction() as session:
                record_minimisations(
                    session, f"query.{query}", requester, actions, context.clock.now()
                )
            metrics.minimised("reply", minimised_kinds(actions))
    return reply.model_dump_json(exclude_none=True).encode()
