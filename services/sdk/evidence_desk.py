"""Evidence with integrity, the agency side: attach (put, then sign the digest) and check.

:meth:`EvidenceDesk.attach_evidence` streams a file into bucket ``IPBUS_EVIDENCE`` chunk by
chunk, hashing as it goes, then signs ``evidence.attached`` (digest, size, media type, the
object's name) to each addressee. An agency may write the bucket but never read it
(nats_config.py): a recipient fetches through the coordinator's ``evidence_chunk`` query,
hashes what arrives into a temporary file, and answers with a signed ``evidence.received``
— ``verified``, or ``refused`` with the mismatch. Memory stays one chunk either way.
"""

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectMetaOptions
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from contracts.envelope import Event
from contracts.evidence import (
    EVIDENCE_BUCKET,
    EVIDENCE_CHUNK_BYTES,
    EVIDENCE_CHUNK_QUERY,
    EvidenceAttached,
    EvidenceChunkQuery,
    EvidenceChunkReply,
    EvidenceKind,
    EvidenceOutcome,
    EvidenceReceived,
    evidence_object_name,
)
from contracts.identifiers import new_ulid
from services.runtime.bus import RetryableError, StepRefused
from services.sdk.queries import ask_coordinator
from services.sdk.service import AgencyService, UnitOfWork, handles

__all__ = [
    "EvidenceCheck",
    "EvidenceDesk",
    "EvidenceTooLarge",
    "WriteOnlyObjectStore",
    "check_evidence",
    "fetch_evidence",
    "put_evidence",
]


class EvidenceTooLarge(StepRefused):
    """The evidence is larger than ``evidence_max_bytes``."""


class WriteOnlyObjectStore(ObjectStore):
    """nats-py's object store for an identity that may put but not read.

    ``put`` looks the name up first to replace an earlier version; an agency has no read
    right on the bucket, and its names are fresh (``<case_id>/<new evidence ULID>``), so
    there is never one: the lookup answers "not found" without asking the server.
    """

    async def get_info(self, name: str, show_deleted: bool | None = False) -> Any:
        raise ObjectNotFoundError


class _HashingReader:
    """A binary file read through ``readinto`` (as nats-py's put reads), hashed and counted,
    refusing to go past ``limit`` bytes."""

    def __init__(self, source: IO[bytes], limit: int) -> None:
        self._source = source
        self._limit = limit
        self.digest = hashlib.sha256()
        self.size = 0

    def readinto(self, buffer: bytearray) -> int:
        n = self._source.readinto(buffer)  # type: ignore[attr-defined]
        if not n:
            return 0
        self.size += n
        if self.size > self._limit:
            raise EvidenceTooLarge(f"evidence is larger than {self._limit} bytes")
        self.digest.update(memoryview(buffer)[:n])
        return int(n)


async def put_evidence(
    js: JetStreamContext, name: str, source: IO[bytes], *, limit: int
) -> tuple[str, int]:
    """Stream ``source`` into the bucket as object ``name``; its SHA-256 (hex) and size."""
    store = WriteOnlyObjectStore(name=EVIDENCE_BUCKET, stream=f"OBJ_{EVIDENCE_BUCKET}", js=js)
    reader = _HashingReader(source, limit)
    meta = ObjectMeta(name=name, options=ObjectMetaOptions(max_chunk_size=EVIDENCE_CHUNK_BYTES))
    try:
        await store.put(name, reader, meta=meta)  # type: ignore[arg-type]
    except EvidenceTooLarge:
        raise
    except Exception as exc:
        # nats-py purges the chunks of a failed put; an agency may not purge, so that
        # fails too and hides the cause: say what it was (the chunks stay, without meta)
        if reader.size > limit:
            raise EvidenceTooLarge(f"evidence is larger than {limit} bytes") from exc
        raise RetryableError(f"evidence {name} could not be put: {exc!r}") from exc
    return reader.digest.hexdigest(), reader.size


async def fetch_evidence(
    nc: Client, *, requester: str, evidence_id: str, into: IO[bytes], wait_s: float = 10.0
) -> tuple[str, int]:
    """Fetch an evidence object through the coordinator into ``into``, chunk by chunk;
    the SHA-256 (hex) and size of what arrived. :class:`StepRefused` when the coordinator
    will not serve it (not a party, no such evidence)."""
    digest, size, index, cursor = hashlib.sha256(), 0, 0, 0
    while True:
        reply = await ask_coordinator(
            nc,
            requester=requester,
            query=EVIDENCE_CHUNK_QUERY,
            request=EvidenceChunkQuery(evidence_id=evidence_id, index=index, cursor=cursor),
            reply_type=EvidenceChunkReply,
            wait_s=wait_s,
        )
        if reply.error is not None:
            raise StepRefused(f"evidence {evidence_id}: {reply.error}")
        into.write(reply.data)
        digest.update(reply.data)
        size += len(reply.data)
        if reply.last:
            return digest.hexdigest(), size
        index, cursor = index + 1, reply.cursor


@dataclass(frozen=True, slots=True)
class EvidenceCheck:
    """What a recipient found: the digest and size it computed, and its verdict."""

    sha256: str
    size: int
    outcome: EvidenceOutcome
    reason: str = ""


def check_evidence(attached: EvidenceAttached, sha256: str, size: int) -> EvidenceCheck:
    """Compare what arrived with what the signed event promised. Pure."""
    if size != attached.size:
        return EvidenceCheck(
            sha256,
            size,
            EvidenceOutcome.REFUSED,
            f"size mismatch: expected {attached.size} bytes, got {size}",
        )
    if sha256 != attached.sha256:
        return EvidenceCheck(
            sha256,
            size,
            EvidenceOutcome.REFUSED,
            f"sha256 mismatch: expected {attached.sha256}, got {sha256}",
        )
    return EvidenceCheck(sha256, size, EvidenceOutcome.VERIFIED)


class EvidenceDesk(AgencyService):
    """An :class:`AgencyService` that attaches evidence and checks what it is sent."""

    evidence_dir: Path | None = None
    """Where checked evidence is kept (None: a temporary file, discarded after the check)."""

    async def attach_evidence(
        self,
        case_id: str,
        source: Path | IO[bytes],
        *,
        kind: EvidenceKind,
        title: str,
        media_type: str,
        to: Sequence[str],
        referral_id: str | None = None,
    ) -> EvidenceAttached:
        """Put the bytes (streamed from a path or a binary file), then sign the digest to
        each party in ``to``: one ``evidence.attached`` per addressee, the same payload."""
        if not to:
            raise StepRefused("evidence is attached to someone: name at least one party")
        evidence_id = new_ulid()
        name = evidence_object_name(case_id, evidence_id)
        limit = self.context.evidence_max_bytes
        if isinstance(source, Path):
            with source.open("rb") as file:
                if os.fstat(file.fileno()).st_size > limit:
                    raise EvidenceTooLarge(f"{source.name} is larger than {limit} bytes")
                sha256, size = await put_evidence(self.js, name, file, limit=limit)
        else:
            sha256, size = await put_evidence(self.js, name, source, limit=limit)
        if size == 0:
            raise StepRefused("evidence must not be empty")
        attached = EvidenceAttached(
            evidence_id=evidence_id,
            case_id=case_id,
            referral_id=referral_id,
            kind=kind,
            title=title,
            media_type=media_type,
            size=size,
            sha256=sha256,
            object=name,
        )
        async with self.unit_of_work() as uow:
            for party in dict.fromkeys(to):
                uow.emit(attached, to=party, case_id=case_id)
        self.log.info("evidence attached", case_id=case_id, evidence_id=evidence_id, size=size)
        return attached

    @handles(EvidenceAttached)
    async def on_evidence_attached(self, uow: UnitOfWork, event: Event) -> None:
        """Fetch what we were sent, hash it, and answer with a signed receipt.

        The fetch runs inside the event's transaction, so a crash means a redelivery and
        a fetch again, never a lost receipt.
        """
        attached = event.payload
        assert isinstance(attached, EvidenceAttached)
        if event.sender == self.agency.id:
            return
        check = await self._fetch_and_check(attached)
        receipt = EvidenceReceived(
            evidence_id=attached.evidence_id,
            case_id=attached.case_id,
            sha256=check.sha256,
            outcome=check.outcome,
            reason=check.reason,
        )
        uow.emit(receipt, to=event.sender, case_id=attached.case_id)
        self.log.info(
            "evidence checked",
            case_id=attached.case_id,
            evidence_id=attached.evidence_id,
            outcome=check.outcome.value,
        )

    async def _fetch_and_check(self, attached: EvidenceAttached) -> EvidenceCheck:
        if self.evidence_dir is not None:
            self.evidence_dir.mkdir(parents=True, exist_ok=True)
            path = self.evidence_dir / f"{attached.evidence_id}.part"
            with path.open("wb") as file:
                sha256, size = await self._fetch(attached.evidence_id, file)
            check = check_evidence(attached, sha256, size)
            if check.outcome is EvidenceOutcome.VERIFIED:
                path.rename(path.with_suffix(""))
            return check
        with tempfile.TemporaryFile() as file:
            sha256, size = await self._fetch(attached.evidence_id, file)
        return check_evidence(attached, sha256, size)

    async def _fetch(self, evidence_id: str, into: IO[bytes]) -> tuple[str, int]:
        try:
            return await fetch_evidence(
                self.broker.connection, requester=self.agency.id, evidence_id=evidence_id, into=into
            )
        except StepRefused as exc:
            # the coordinator may not have applied evidence.attached yet: ask again later
            raise RetryableError(str(exc)) from exc
