"""Uploads through the hub: the coordinator alone writes bucket ``IPBUS_EVIDENCE``.

An agency sends its bytes chunk by chunk through the ``evidence_put`` query. Chunk 0 opens
the upload (the requester must be party to the case, the evidence id unused); each chunk
is spooled to a file of the coordinator's own (0600, under its spool directory), counted
and hashed; the last has the file put into the bucket, streamed, under
``<case_id>/<evidence_id>``, and records what the hub computed, which the later signed
``evidence.attached`` must repeat (:func:`~services.coordinator.evidence.rules.check_stored`).
A chunk sent again is acknowledged and changes nothing; only the uploader continues its
upload; an upload left open longer than ``idle_s`` is dropped (spool deleted) on the next
put. Memory stays one chunk per request.
"""

import asyncio
import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectMetaOptions
from nats.js.object_store import ObjectStore
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.evidence import (
    EVIDENCE_BUCKET,
    EVIDENCE_CASE_UNKNOWN,
    EVIDENCE_CHUNK_BYTES,
    EvidencePutQuery,
    EvidencePutReply,
    evidence_object_name,
)
from services.coordinator.cases.domain import RefusedStep
from services.coordinator.cases.store import load_case
from services.coordinator.evidence.rules import ChunkVerdict, StoredUpload, check_chunk
from services.coordinator.evidence.store import load_evidence, load_upload, record_upload

__all__ = ["UPLOAD_NOT_FOUND", "EvidenceIntake", "parse_put_query"]

UPLOAD_NOT_FOUND = "no such upload, or not yours"


def parse_put_query(body: bytes) -> EvidencePutQuery | str:
    """The query, or why it is not one."""
    try:
        return EvidencePutQuery.model_validate_json(body)
    except ValidationError as exc:
        return f"bad query: {exc.errors(include_url=False)[0]['msg']}"


@dataclass(slots=True)
class _OpenUpload:
    case_id: str
    uploader: str
    path: Path
    file: IO[bytes]
    media_type: str | None
    touched: float
    next_index: int = 0
    size: int = 0
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)


class EvidenceIntake:
    """The uploads in progress (in memory, spooled to disk) and what completes them."""

    def __init__(self, spool_dir: Path, *, limit: int, idle_s: float = 600.0) -> None:
        self.spool_dir = spool_dir
        self.limit = limit
        self.idle_s = idle_s
        self._open: dict[str, _OpenUpload] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def start(self) -> None:
        """The spool directory, owner only, emptied of what a previous run left."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool_dir.chmod(0o700)
        for stale in self.spool_dir.glob("*.part"):
            stale.unlink(missing_ok=True)

    @property
    def open_uploads(self) -> int:
        return len(self._open)

    def drop_idle(self, now: float) -> list[str]:
        """Drop the uploads untouched for ``idle_s``; their ids."""
        idle = [k for k, u in self._open.items() if now - u.touched > self.idle_s]
        for evidence_id in idle:
            self._drop(evidence_id)
        return idle

    def close(self) -> None:
        for evidence_id in list(self._open):
            self._drop(evidence_id)

    async def receive(
        self,
        session: AsyncSession,
        js: JetStreamContext,
        requester: str,
        query: EvidencePutQuery,
        *,
        now: float,
        at: datetime,
    ) -> EvidencePutReply:
        """Take one chunk for ``requester``; on the last, store the object and record it."""
        self.drop_idle(now)
        lock = self._locks.setdefault(query.evidence_id, asyncio.Lock())
        async with lock:
            try:
                return await self._receive(session, js, requester, query, now=now, at=at)
            finally:
                if query.evidence_id not in self._open:
                    self._locks.pop(query.evidence_id, None)

    async def _receive(
        self,
        session: AsyncSession,
        js: JetStreamContext,
        requester: str,
        query: EvidencePutQuery,
        *,
        now: float,
        at: datetime,
    ) -> EvidencePutReply:
        upload = self._open.get(query.evidence_id)
        if upload is None:
            stored = await load_upload(session, query.evidence_id)
            if stored is not None:  # a retry of the last chunk, or a reused id
                if stored.uploader != requester or stored.case_id != query.case_id:
                    return EvidencePutReply(index=query.index, error=UPLOAD_NOT_FOUND)
                return EvidencePutReply(
                    index=query.index,
                    received=stored.size,
                    stored=True,
                    size=stored.size,
                    sha256=stored.sha256,
                )
            if query.index != 0:
                return EvidencePutReply(index=query.index, error=UPLOAD_NOT_FOUND)
            refusal = await self._refuse_opening(session, requester, query)
            if refusal is not None:
                return EvidencePutReply(index=query.index, error=refusal)
            upload = self._open_upload(requester, query, now)
        elif upload.uploader != requester or upload.case_id != query.case_id:
            return EvidencePutReply(index=query.index, error=UPLOAD_NOT_FOUND)
        upload.touched = now
        try:
            verdict = check_chunk(
                upload.next_index, query.index, len(query.data), upload.size, self.limit
            )
        except RefusedStep as exc:
            if "larger than" in str(exc):
                self._drop(query.evidence_id)
            return EvidencePutReply(index=query.index, received=upload.size, error=str(exc))
        if verdict is ChunkVerdict.AGAIN:
            return EvidencePutReply(index=query.index, received=upload.size)
        upload.file.write(query.data)
        upload.digest.update(query.data)
        upload.size += len(query.data)
        upload.next_index += 1
        if not query.last:
            return EvidencePutReply(index=query.index, received=upload.size)
        return await self._complete(session, js, query, upload, at)

    async def _refuse_opening(
        self, session: AsyncSession, requester: str, query: EvidencePutQuery
    ) -> str | None:
        if query.declared_size is not None and query.declared_size > self.limit:
            return f"evidence is larger than {self.limit} bytes"
        case = await load_case(session, query.case_id)
        if case is None or requester not in case.parties:
            return EVIDENCE_CASE_UNKNOWN
        if await load_evidence(session, query.evidence_id) is not None:
            return f"evidence id {query.evidence_id} is in use: take a fresh one"
        return None

    def _open_upload(self, requester: str, query: EvidencePutQuery, now: float) -> _OpenUpload:
        path = self.spool_dir / f"{query.evidence_id}.part"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        upload = _OpenUpload(
            case_id=query.case_id,
            uploader=requester,
            path=path,
            file=os.fdopen(fd, "wb"),
            media_type=query.media_type,
            touched=now,
        )
        self._open[query.evidence_id] = upload
        return upload

    async def _complete(
        self,
        session: AsyncSession,
        js: JetStreamContext,
        query: EvidencePutQuery,
        upload: _OpenUpload,
        at: datetime,
    ) -> EvidencePutReply:
        try:
            if upload.size == 0:
                return EvidencePutReply(index=query.index, error="evidence must not be empty")
            upload.file.close()
            name = evidence_object_name(upload.case_id, query.evidence_id)
            store = ObjectStore(name=EVIDENCE_BUCKET, stream=f"OBJ_{EVIDENCE_BUCKET}", js=js)
            meta = ObjectMeta(
                name=name, options=ObjectMetaOptions(max_chunk_size=EVIDENCE_CHUNK_BYTES)
            )
            with upload.path.open("rb") as spooled:
                await store.put(name, spooled, meta=meta)
            stored = StoredUpload(
                evidence_id=query.evidence_id,
                case_id=upload.case_id,
                uploader=upload.uploader,
                sha256=upload.digest.hexdigest(),
                size=upload.size,
            )
            record_upload(session, stored, media_type=upload.media_type, at=at)
            return EvidencePutReply(
                index=query.index,
                received=stored.size,
                stored=True,
                size=stored.size,
                sha256=stored.sha256,
            )
        finally:
            self._drop(query.evidence_id)

    def _drop(self, evidence_id: str) -> None:
        upload = self._open.pop(evidence_id, None)
        if upload is None:
            return
        upload.file.close()
        upload.path.unlink(missing_ok=True)
