"""Evidence through the gateway: an agency system uploads bytes, a party downloads them.

``POST /cases/{case_id}/evidence`` takes the bytes as the request body (its
``Content-Type`` is the evidence's media type; kind, title and addressees are query
parameters), streamed to a temporary file with a running count: past
``evidence_max_bytes`` it is refused with 413 before the rest is read. The desk then puts
the file into the object store and signs ``evidence.attached``
(:meth:`services.sdk.EvidenceDesk.attach_evidence`).

``GET /evidence/{evidence_id}`` streams the object, fetched from the coordinator chunk by
chunk (need-to-know: 404 for evidence on a case the agency is not party to); the agency
checks it against the digest of the signed ``evidence.attached``.

Uploads are a plain streamed body rather than ``multipart/form-data``: FastAPI parses
multipart through ``python-multipart``, which is not a dependency of ipbus.
"""

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from contracts.evidence import (
    EVIDENCE_CHUNK_QUERY,
    EvidenceAttached,
    EvidenceChunkQuery,
    EvidenceChunkReply,
    EvidenceKind,
)
from services.gateway.problems import GatewayProblem, Problem
from services.runtime.bus import RetryableError, StepRefused
from services.sdk import AgencyService, EvidenceDesk, ask_coordinator

__all__ = ["add_evidence_routes", "is_evidence_upload"]

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
SPOOL_BYTES = 1024 * 1024
"""An upload stays in memory up to this much, then goes to disk."""


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
        request: Request,
        case_id: Annotated[str, PathParam(pattern=ULID_PATTERN)],
        kind: Annotated[EvidenceKind, Query()],
        title: Annotated[str, Query(min_length=1)],
        to: Annotated[list[str], Query(min_length=1, description="the parties to tell")],
        name: Annotated[str, Depends(upload_guard)],
        referral_id: Annotated[str | None, Query(pattern=ULID_PATTERN)] = None,
    ) -> EvidenceAttached:
        """Stream the body into the object store and sign its digest to ``to``; 413 past
        the limit (before the rest is read), 409 when the desk refuses it."""
        if not isinstance(service, EvidenceDesk):
            raise GatewayProblem("not-found", f"{agency_id} does not attach evidence")
        media_type = (request.headers.get("content-type") or "application/octet-stream").split(";")[
            0
        ]
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
            received = 0
            async for piece in request.stream():
                received += len(piece)
                if received > max_bytes:
                    raise GatewayProblem(
                        "body-too-large",
                        f"evidence is limited to {max_bytes} bytes; this upload is larger",
                    )
                spool.write(piece)
            if received == 0:
                raise GatewayProblem("step-refused", "the evidence is empty")
            spool.seek(0)
            try:
                return await service.attach_evidence(
                    case_id,
                    spool,
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
