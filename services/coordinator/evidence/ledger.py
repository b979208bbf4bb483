"""The coordinator's part in evidence: record attachments and receipts, serve the bytes.

Only the coordinator reads bucket ``IPBUS_EVIDENCE`` (nats_config.py); a party fetches an
object chunk by chunk through the ``evidence_chunk`` query, need-to-know like the case
query: evidence on a case the asker is not party to is "not found", exactly like evidence
that does not exist. Each reply carries one stored chunk, so memory stays one chunk per
request whatever the object's size.
"""

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event, RejectReason
from contracts.evidence import (
    EVIDENCE_BUCKET,
    EvidenceAttached,
    EvidenceChunkQuery,
    EvidenceChunkReply,
    EvidenceReceived,
)
from services.coordinator.cases.domain import (
    CaseFile,
    NotAParty,
    NotPermitted,
    RefusedStep,
    may_see,
)
from services.coordinator.cases.store import load_case
from services.coordinator.evidence.rules import (
    check_attached,
    check_received,
    check_referral,
    check_stored,
)
from services.coordinator.evidence.store import (
    load_evidence,
    load_upload,
    record_attached,
    record_received,
)
from services.runtime.bus import PermanentError, StepRefused
from services.sdk import UnitOfWork

__all__ = ["EVIDENCE_NOT_FOUND", "answer_chunk", "follow_evidence", "parse_chunk_query"]

EVIDENCE_NOT_FOUND = "evidence not found, or not shared with you"


async def follow_evidence(uow: UnitOfWork, event: Event, case: CaseFile) -> None:
    """Record an attachment or a receipt (the case's party check has run); refuse what
    contradicts the evidence's history or the bytes the hub stored for it, or names a
    referral not on the case."""
    payload = event.payload
    if not isinstance(payload, EvidenceAttached | EvidenceReceived):
        return
    existing = await load_evidence(uow.session, payload.evidence_id)
    try:
        if isinstance(payload, EvidenceAttached):
            check_referral(payload, frozenset(case.referrals))
            if check_attached(existing, event.sender, payload):
                # the bytes the hub stored for this sender, with the digest it computed
                check_stored(
                    await load_upload(uow.session, payload.evidence_id), event.sender, payload
                )
                record_attached(
                    uow.session, payload, uploader=event.sender, event_id=event.id, at=uow.now
                )
            return
        check_received(existing, event.sender, payload)
    except NotAParty as exc:
        raise PermanentError(RejectReason.NOT_A_PARTY, str(exc)) from exc
    except NotPermitted as exc:
        raise PermanentError(RejectReason.NOT_PERMITTED, str(exc)) from exc
    except RefusedStep as exc:
        raise StepRefused(str(exc)) from exc
    record_received(uow.session, payload, agency=event.sender, event_id=event.id, at=uow.now)


def parse_chunk_query(body: bytes) -> EvidenceChunkQuery | str:
    """The query, or why it is not one."""
    try:
        return EvidenceChunkQuery.model_validate_json(body)
    except ValidationError as exc:
        return f"bad query: {exc.errors(include_url=False)[0]['msg']}"


async def answer_chunk(
    session: AsyncSession, js: JetStreamContext, requester: str, query: EvidenceChunkQuery
) -> tuple[str | None, EvidenceChunkReply]:
    """The case the evidence is on (for the audit) and chunk ``query.index`` of its object,
    if ``requester`` is party to that case; the same "not found" otherwise."""
    evidence = await load_evidence(session, query.evidence_id)
    case = await load_case(session, evidence.case_id) if evidence is not None else None
    if evidence is None or case is None or not may_see(case, requester):
        return (evidence.case_id if evidence else None), EvidenceChunkReply(
            error=EVIDENCE_NOT_FOUND
        )
    store = ObjectStore(name=EVIDENCE_BUCKET, stream=f"OBJ_{EVIDENCE_BUCKET}", js=js)
    try:
        info = await store.get_info(evidence.object)
    except Exception:  # gone from the store (deleted, or never put): nothing to serve
        return case.case_id, EvidenceChunkReply(error="the object is not in the store")
    chunks, size = info.chunks or 0, info.size or 0
    if query.index >= max(chunks, 1):
        return case.case_id, EvidenceChunkReply(error=f"no chunk {query.index}", size=size)
    if chunks == 0:
        return case.case_id, EvidenceChunkReply(index=0, last=True, size=0)
    try:
        msg = await js.get_msg(
            f"OBJ_{EVIDENCE_BUCKET}",
            seq=max(query.cursor, 1),
            subject=f"$O.{EVIDENCE_BUCKET}.C.{info.nuid}",
            next=True,
        )
    except NotFoundError:
        return case.case_id, EvidenceChunkReply(error=f"no chunk {query.index}", size=size)
    return case.case_id, EvidenceChunkReply(
        data=msg.data or b"",
        index=query.index,
        cursor=(msg.seq or 0) + 1,
        last=query.index + 1 == chunks,
        size=size,
    )
