"""Evidence through the gateway: an agency system uploads bytes, a party downloads them.

``POST /cases/{case_id}/evidence`` takes ``multipart/form-data``: the part ``file`` (its
``Content-Type`` is the evidence's media type) and the fields ``kind``, ``title``, ``to``
(repeated, the parties to tell) and ``referral_id``. The body is counted as it arrives
(:class:`~services.gateway.guard.BodyLimit`, with ``evidence_max_bytes`` for this route) and
refused with 413 as soon as it passes the limit, before the rest is read; the file part is
spooled to disk past 1 MiB. The desk then streams it to the coordinator, which alone writes
the object store (``evidence_put``), and signs ``evidence.attached``
(:meth:`services.sdk.EvidenceDesk.attach_evidence`).

``GET /evidence/{evidence_id}`` streams the object, fetched from the coordinator chunk by
chunk (need-to-know: 404 for evidence on a case the agency is not party to); the agency
checks it against the digest of the signed ``evidence.attached``.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from contracts.evidence import (
    EVIDENCE_CHUNK_QUERY,
    EvidenceAttached,
    EvidenceChunkQuery,
    EvidenceChunkReply,
    EvidenceKind,
)
from contracts.identifiers import AgencyId
from services.gateway.problems import GatewayProblem, Problem
from services.runtime.bus import RetryableError, StepRefused
from services.sdk import AgencyService, EvidenceDesk, ask_coordinator

__all__ = ["add_evidence_routes", "is_evidence_upload", "upload_limit"]

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""What the form's other fields and part headers may add to the file in a body."""


def upload_limit(max_bytes: int) -> int:
    """The body limit of an upload of at most ``max_bytes`` of evidence."""
    return max_bytes + MULTIPART_OVERHEAD_BYTES


def is_evidence_upload(method: str, path: str) -> bool:
    """Whether a request is an evidence upload (its body limit is ``evidence_max_bytes``)."""
    return method == "POST" and path.endswith("/evidence") and "/cases/" in path


def add_evidence_routes(
    router: APIRouter,
    service: AgencyService,
    *,
    upload_guard: Callable[..., Awaitable[str]],
    read_guard: Callable[..., Awaitable[str]],
    refusals: dict[int | str, dict[str, Any]],
    max_bytes: int,
) -> None:
    """Mount the upload and download operations on ``router``."""
    agency_id = service.agency.id

    @router.post(
        "/cases/{case_id}/evidence",
        status_code=status.HTTP_201_CREATED,
        response_model=EvidenceAttached,
        responses={413: {"model": Problem, "description": f"over {max_bytes} bytes"}, **refusals},
        summary="Attach evidence to a case (the body is the file)",
    )
    async def upload(
        case_id: Annotated[str, PathParam(pattern=ULID_PATTERN)],
        file: Annotated[UploadFile, File(description="the evidence; its type is the media type")],
        kind: Annotated[EvidenceKind, Form()],
        title: Annotated[str, Form(min_length=1)],
        to: Annotated[list[AgencyId], Form(min_length=1, description="the parties to tell")],
        name: Annotated[str, Depends(upload_guard)],
        referral_id: Annotated[str | None, Form(pattern=ULID_PATTERN)] = None,
    ) -> EvidenceAttached:
        """Stream the file to the coordinator (into the object store) and sign its digest to
        ``to``; 413 past the limit (before the rest is read), 409 when the desk refuses it."""
        if not isinstance(service, EvidenceDesk):
            raise GatewayProblem("not-found", f"{agency_id} does not attach evidence")
        if file.size is not None and file.size > max_bytes:
            raise GatewayProblem(
                "body-too-large", f"evidence is limited to {max_bytes} bytes; this file is larger"
            )
        media_type = (file.content_type or "application/octet-stream").split(";")[0]
        try:
            return await service.attach_evidence(
                case_id,
                file.file,
                kind=kind,
                title=title,
                media_type=media_type.strip().lower(),
                to=to,
                referral_id=referral_id,
            )
        except StepRefused as exc:
            raise GatewayProblem("step-refused", exc.detail) from None
        except RetryableError as exc:
            raise GatewayProblem("unavailable", str(exc), {"Retry-After": "1"}) from None
        finally:
            await file.close()

    @router.get(
        "/evidence/{evidence_id}",
        responses={200: {"content": {"application/octet-stream": {}}}, **refusals},
        response_class=StreamingResponse,
        summary="Download evidence on a case this agency is party to",
    )
    async def download(
        evidence_id: Annotated[str, PathParam(pattern=ULID_PATTERN)],
        name: Annotated[str, Depends(read_guard)],
    ) -> StreamingResponse:
        """The bytes, streamed chunk by chunk from the coordinator; 404 when the evidence
        does not exist or is on a case this agency is not party to."""
        first = await _chunk(service, agency_id, evidence_id, 0, 0)

        async def chunks() -> AsyncIterator[bytes]:
            reply = first
            yield reply.data
            while not reply.last:
                reply = await _chunk(service, agency_id, evidence_id, reply.index + 1, reply.cursor)
                yield reply.data

        return StreamingResponse(
            chunks(),
            media_type="application/octet-stream",
            headers={"Content-Length": str(first.size)},
        )


async def _chunk(
    service: AgencyService, agency_id: str, evidence_id: str, index: int, cursor: int
) -> EvidenceChunkReply:
    try:
        reply = await ask_coordinator(
            service.broker.connection,
            requester=agency_id,
            query=EVIDENCE_CHUNK_QUERY,
            request=EvidenceChunkQuery(evidence_id=evidence_id, index=index, cursor=cursor),
            reply_type=EvidenceChunkReply,
            wait_s=10.0,
        )
    except RetryableError as exc:
        raise GatewayProblem("unavailable", str(exc), {"Retry-After": "1"}) from None
    if reply.error is not None:
        raise GatewayProblem("not-found", reply.error)
    return reply
