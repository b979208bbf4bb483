"""Evidence with integrity (DESIGN §5 "added in v1"): bytes by object store, digest by event.

The bytes of a piece of evidence travel through the JetStream object store bucket
:data:`EVIDENCE_BUCKET`; the signed ``evidence.attached`` event carries their SHA-256, size
and media type and the object's name. Each recipient fetches the object (through the
coordinator, which alone reads the bucket: :data:`EVIDENCE_CHUNK_QUERY`), hashes what it
received and answers with a signed ``evidence.received``: ``verified``, or ``refused`` with
the reason (a digest or size mismatch).
"""

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import Payload
from contracts.identifiers import NonEmptyStr, Sha256Hex, Ulid

__all__ = [
    "EVIDENCE_BUCKET",
    "EVIDENCE_CASE_UNKNOWN",
    "EVIDENCE_CHUNK_BYTES",
    "EVIDENCE_CHUNK_QUERY",
    "EVIDENCE_PUT_QUERY",
    "EvidenceAttached",
    "EvidenceChunkQuery",
    "EvidenceChunkReply",
    "EvidenceKind",
    "EvidenceOutcome",
    "EvidencePutQuery",
    "EvidencePutReply",
    "EvidenceReceived",
    "evidence_object_name",
]

EVIDENCE_BUCKET = "IPBUS_EVIDENCE"
"""The JetStream object store bucket (stream ``OBJ_IPBUS_EVIDENCE``)."""
EVIDENCE_CHUNK_QUERY = "evidence_chunk"
"""``ipbus.query.<requester>.evidence_chunk``: one chunk of an object, need-to-know."""
EVIDENCE_PUT_QUERY = "evidence_put"
"""``ipbus.query.<requester>.evidence_put``: one chunk of an upload; the hub alone writes."""
EVIDENCE_CASE_UNKNOWN = "case not found, or you are not party to it"
"""The hub's answer to an upload on a case it does not show the requester (maybe not yet:
a case just opened may not have reached it)."""
EVIDENCE_CHUNK_BYTES = 128 * 1024
"""The object store's chunk size (nats-py's default) and the most one query reply carries."""


def evidence_object_name(case_id: str, evidence_id: str) -> str:
    """The object's name in :data:`EVIDENCE_BUCKET`: ``<case_id>/<evidence_id>``."""
    return f"{case_id}/{evidence_id}"


class EvidenceKind(StrEnum):
    INSPECTION_REPORT = "inspection_report"
    """检验报告 / 鉴定报告 on goods (e.g. customs' inspection of detained goods)."""
    IDENTIFICATION_OPINION = "identification_opinion"
    """The rights holder's or an expert's opinion that goods are counterfeit (鉴定意见)."""
    PHOTO = "photo"
    DOCUMENT = "document"


class EvidenceOutcome(StrEnum):
    VERIFIED = "verified"
    REFUSED = "refused"


class EvidenceAttached(Payload):
    """A party puts a piece of evidence on the case; the bytes are in the object store."""

    event_type: ClassVar[str] = "evidence.attached"

    evidence_id: Ulid
    case_id: Ulid
    referral_id: Ulid | None = None
    """The referral the evidence travels with, when it does."""
    kind: EvidenceKind
    title: NonEmptyStr
    media_type: str = Field(pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
    size: int = Field(gt=0)
    """Bytes."""
    sha256: Sha256Hex
    object: NonEmptyStr
    """The object's name in bucket ``IPBUS_EVIDENCE`` (``<case_id>/<evidence_id>``)."""

    @model_validator(mode="after")
    def _object_is_named_for_the_evidence(self) -> Self:
        if self.object != evidence_object_name(self.case_id, self.evidence_id):
            raise ValueError("object must be named <case_id>/<evidence_id>")
        return self


class EvidenceReceived(Payload):
    """A recipient's signed receipt: the digest it computed over the bytes it fetched."""

    event_type: ClassVar[str] = "evidence.received"

    evidence_id: Ulid
    case_id: Ulid
    sha256: Sha256Hex
    """What the recipient computed (on a size mismatch: over what it received)."""
    outcome: EvidenceOutcome
    reason: str = ""
    """Why it was refused; required when it was."""

    @model_validator(mode="after")
    def _refusal_says_why(self) -> Self:
        if self.outcome is EvidenceOutcome.REFUSED and not self.reason.strip():
            raise ValueError("a refused evidence.received needs a reason")
        return self


class EvidenceChunkQuery(BaseModel):
    """Ask the coordinator for chunk ``index`` of an evidence object (need-to-know)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evidence_id: Ulid
    index: int = Field(default=0, ge=0)
    """Which chunk (0 first); the first is the start of a fetch (rate-gated and audited)."""
    cursor: int = Field(default=0, ge=0)
    """The previous reply's ``cursor``: where the object's next chunk is looked for."""


class EvidenceChunkReply(BaseModel):
    """One chunk (base64 in JSON), or an error that says nothing about others' cases."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", ser_json_bytes="base64", val_json_bytes="base64"
    )

    data: bytes = b""
    """Base64 on the wire: at most one object chunk."""
    index: int = 0
    cursor: int = 0
    """Pass it back with the next index."""
    last: bool = False
    size: int = 0
    """The object's size as the store holds it."""
    error: str | None = None


class EvidencePutQuery(BaseModel):
    """Send the coordinator chunk ``index`` of an upload (only the hub writes the bucket).

    Chunk 0 opens the upload of ``evidence_id`` (fresh) on ``case_id``, which the requester
    must be party to; the chunk with ``last`` closes it and has the object stored. The bytes
    travel base64 in JSON, like :class:`EvidenceChunkReply`: one request shape for every
    query, validated by the same model on both sides.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    evidence_id: Ulid
    case_id: Ulid
    index: int = Field(default=0, ge=0)
    data: bytes = b""
    """Base64 on the wire: at most :data:`EVIDENCE_CHUNK_BYTES` bytes once decoded."""
    last: bool = False
    media_type: str | None = Field(default=None, max_length=255)
    """Declared on chunk 0, when known."""
    declared_size: int | None = Field(default=None, ge=0)
    """Declared on chunk 0, when known: refused at once past the limit."""


class EvidencePutReply(BaseModel):
    """What the coordinator has of an upload; on the last chunk, what it stored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    index: int = 0
    """The chunk this answers."""
    received: int = 0
    """Bytes spooled so far."""
    stored: bool = False
    """The object is in the bucket; ``size`` and ``sha256`` are what the hub computed."""
    size: int = 0
    sha256: str = ""
    error: str | None = None
    holder: str = ""
    """The coordinator replica holding the upload (its spool and running hash): the chunks
    after the first go to ``ipbus.query.<requester>.evidence_put.<holder>``, so an upload
    stays with one replica when several answer queries as one queue group."""
