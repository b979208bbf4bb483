"""Answering the ``case`` query: the case file and its timeline, need-to-know."""

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.queries import CaseQuery, CaseReply
from services.coordinator.cases.domain import may_see
from services.coordinator.cases.parties import linked_case_ids
from services.coordinator.cases.store import case_view, load_case
from services.coordinator.credit.rules import listing_view
from services.coordinator.credit.store import listings_named_in
from services.coordinator.evidence.store import case_evidence
from services.runtime.ops import Logger

__all__ = ["NOT_FOUND", "answer_case_query"]

NOT_FOUND = "case not found, or not shared with you"


async def answer_case_query(
    session: AsyncSession, requester: str, body: bytes, *, log: Logger
) -> tuple[str | None, CaseReply]:
    """The case asked about, and the case, if ``requester`` is party to it (with the linked
    cases it may see too, and the credit standing of the companies it names); the same "not
    found" otherwise."""
    try:
        query = CaseQuery.model_validate_json(body)
    except ValidationError as exc:
        return None, CaseReply(error=f"bad query: {exc.errors(include_url=False)[0]['msg']}")
    case = await load_case(session, query.case_id)
    if case is None or not may_see(case, requester):
        log.info("case query refused", requester=requester, case_id=query.case_id)
        return query.case_id, CaseReply(error=NOT_FOUND)
    view = await case_view(session, case)
    linked = [
        other
        for other in await linked_case_ids(session, case.case_id)
        if (other_case := await load_case(session, other)) and may_see(other_case, requester)
    ]
    listings = [listing_view(x) for x in await listings_named_in(session, case.case_id)]
    evidence = await case_evidence(session, case.case_id)
    update = {"linked_case_ids": linked, "credit_listings": listings, "evidence": evidence}
    return query.case_id, CaseReply(case=view.model_copy(update=update))
