"""Evidence with integrity, the agency side: attach (put, then sign the digest) and check.

:meth:`EvidenceDesk.attach_evidence` streams a file to the coordinator chunk by chunk
(``evidence_put``), hashing as it goes; the hub alone writes bucket ``IPBUS_EVIDENCE`` and
answers with what it stored; the desk then signs ``evidence.attached`` (digest, size, media
type, the object's name) to each addressee. An agency has no right on the bucket at all
(nats_config.py): a recipient fetches through the coordinator's ``evidence_chunk`` query,
hashes what arrives into a temporary file, and answers with a signed ``evidence.received``
— ``verified``, or ``refused`` with the mismatch. Memory stays one chunk either way.
"""

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from nats.aio.client import Client

from contracts.envelope import Event
from contracts.evidence import (
    EVIDENCE_CASE_UNKNOWN,
    EVIDENCE_CHUNK_BYTES,
    EVIDENCE_CHUNK_QUERY,
    EVIDENCE_PUT_QUERY,
    EvidenceAttached,
    EvidenceChunkQuery,
    EvidenceChunkReply,
    EvidenceKind,
    EvidenceOutcome,
    EvidencePutQuery,
    EvidencePutReply,
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
    "check_evidence",
    "fetch_evidence",
    "put_evidence",
]


class EvidenceTooLarge(StepRefused):
    """The evidence is larger than ``evidence_max_bytes``."""


CASE_LAG_PAUSES_S = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
"""How long an upload waits, at most, for a case the coordinator does not know yet."""


async def put_evidence(
    nc: Client,
    *,
    requester: str,
    case_id: str,
    evidence_id: str,
    source: IO[bytes],
    limit: int,
    media_type: str | None = None,
    declared_size: int | None = None,
    wait_s: float = 10.0,
    store_wait_s: float = 120.0,
) -> tuple[str, int]:
    """Send ``source`` to the coordinator chunk by chunk (``evidence_put``), hashing and
    counting as it goes; the hub alone writes the bucket. The SHA-256 (hex) and size this
    side computed, once the hub stored the same: :class:`EvidenceTooLarge` past ``limit``,
    :class:`StepRefused` when the hub refuses (not a party, id in use), or stored other
    bytes. A chunk without an answer is sent again (the hub takes a repeat once)."""
    digest, size, index, holder = hashlib.sha256(), 0, 0, ""
    chunk = source.read(EVIDENCE_CHUNK_BYTES)
    while True:
        following = source.read(EVIDENCE_CHUNK_BYTES) if chunk else b""
        size += len(chunk)
        if size > limit:
            raise EvidenceTooLarge(f"evidence is larger than {limit} bytes")
        digest.update(chunk)
        last = not following
        request = EvidencePutQuery(
            evidence_id=evidence_id,
            case_id=case_id,
            index=index,
            data=chunk,
            last=last,
            media_type=media_type if index == 0 else None,
            declared_size=declared_size if index == 0 else None,
        )
        wait = store_wait_s if last else wait_s
        reply = await _put_chunk(nc, requester, request, wait, holder)
        for pause in CASE_LAG_PAUSES_S if index == 0 else ():
            if reply.error != EVIDENCE_CASE_UNKNOWN:
                break
            # a case just opened may not have reached the coordinator yet: ask again
            await asyncio.sleep(pause)
            reply = await _put_chunk(nc, requester, request, wait, holder)
        holder = holder or reply.holder  # the replica that opened the upload keeps it
        if reply.error is not None:
            if "larger than" in reply.error:
                raise EvidenceTooLarge(f"evidence {evidence_id}: {reply.error}")
            raise StepRefused(f"evidence {evidence_id}: {reply.error}")
        if last:
            break
        chunk, index = following, index + 1
    sha256 = digest.hexdigest()
    if not reply.stored or (reply.sha256, reply.size) != (sha256, size):
        raise StepRefused(
            f"evidence {evidence_id}: the hub stored {reply.size} bytes, sha256 "
            f"{reply.sha256}; {size} bytes, sha256 {sha256} were sent"
        )
    return sha256, size


async def _put_chunk(
    nc: Client,
    requester: str,
    request: EvidencePutQuery,
    wait_s: float,
    holder: str,
    attempts: int = 3,
) -> EvidencePutReply:
    """One chunk, to any replica for the first, then to the replica ``holder`` that holds
    the upload (``evidence_put.<holder>``)."""
    for attempt in range(1, attempts + 1):
        try:
            return await ask_coordinator(
                nc,
                requester=requester,
                query=EVIDENCE_PUT_QUERY,
                request=request,
                reply_type=EvidencePutReply,
                wait_s=wait_s,
                to=holder or None,
            )
        except RetryableError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


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
        if unknown := [party for party in to if party not in self.registry]:
            # before a byte is sent: nobody could be told, and the upload would be lost
            raise StepRefused(f"not agencies of the registry: {', '.join(map(repr, unknown))}")
        evidence_id = new_ulid()
        name = evidence_object_name(case_id, evidence_id)
        limit = self.context.evidence_max_bytes
        send = partial(
            put_evidence,
            self.broker.connection,
            requester=self.agency.id,
            case_id=case_id,
            evidence_id=evidence_id,
            limit=limit,
            media_type=media_type,
        )
        if isinstance(source, Path):
            with source.open("rb") as file:
                declared = os.fstat(file.fileno()).st_size
                if declared > limit:
                    raise EvidenceTooLarge(f"{source.name} is larger than {limit} bytes")
                sha256, size = await send(source=file, declared_size=declared)
        else:
            sha256, size = await send(source=source)
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
