"""Who may attach and receipt evidence, from the evidence's own history. Pure.

The case's party check (:func:`services.coordinator.cases.domain.check_party`) has already
run: the sender is a party. Here: an evidence id names one object, one digest, one
uploader — the same ``evidence.attached`` addressed to several parties repeats it exactly;
a receipt answers evidence attached to the same case, by a party other than the uploader.
"""

from dataclasses import dataclass
from enum import StrEnum

from contracts.evidence import EVIDENCE_CHUNK_BYTES, EvidenceAttached, EvidenceReceived
from services.coordinator.cases.domain import NotPermitted, RefusedStep

__all__ = [
    "AttachedEvidence",
    "ChunkVerdict",
    "StoredUpload",
    "check_attached",
    "check_chunk",
    "check_received",
    "check_referral",
    "check_stored",
]


@dataclass(frozen=True, slots=True)
class AttachedEvidence:
    """What the coordinator recorded of one piece of evidence."""

    evidence_id: str
    case_id: str
    uploader: str
    sha256: str
    size: int
    object: str


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """What the coordinator stored in the bucket for an evidence id, and for whom."""

    evidence_id: str
    case_id: str
    uploader: str
    sha256: str
    size: int


class ChunkVerdict(StrEnum):
    TAKE = "take"
    """The next chunk: spool it."""
    AGAIN = "again"
    """A chunk already spooled, sent again (a retry): acknowledge, change nothing."""


def check_chunk(next_index: int, index: int, length: int, spooled: int, limit: int) -> ChunkVerdict:
    """Whether chunk ``index`` of ``length`` bytes is taken, given ``next_index`` expected
    and ``spooled`` bytes so far; :class:`RefusedStep` for a gap or past ``limit``."""
    if length > EVIDENCE_CHUNK_BYTES:
        raise RefusedStep(f"a chunk carries at most {EVIDENCE_CHUNK_BYTES} bytes")
    if index < next_index:
        return ChunkVerdict.AGAIN
    if index > next_index:
        raise RefusedStep(f"chunk {index} is ahead: chunk {next_index} is expected")
    if spooled + length > limit:
        raise RefusedStep(f"evidence is larger than {limit} bytes")
    return ChunkVerdict.TAKE


def check_stored(stored: StoredUpload | None, sender: str, payload: EvidenceAttached) -> None:
    """An attachment names bytes its sender had the hub store, with the digest and size
    the hub computed: else ``illegal_step`` (no such bytes, or other ones) or
    ``not_permitted`` (another agency's upload)."""
    if stored is None:
        raise RefusedStep(
            f"no bytes were stored for evidence {payload.evidence_id}: upload them first"
        )
    if stored.uploader != sender:
        raise NotPermitted(
            f"evidence {payload.evidence_id} was uploaded by {stored.uploader}, not by {sender}"
        )
    if stored.case_id != payload.case_id:
        raise RefusedStep(
            f"evidence {payload.evidence_id} was uploaded to case {stored.case_id}, "
            f"not {payload.case_id}"
        )
    if (stored.sha256, stored.size) != (payload.sha256, payload.size):
        raise RefusedStep(
            f"evidence {payload.evidence_id} was stored as {stored.size} bytes with sha256 "
            f"{stored.sha256}; the event says {payload.size} bytes, sha256 {payload.sha256}"
        )


def check_attached(
    existing: AttachedEvidence | None, sender: str, payload: EvidenceAttached
) -> bool:
    """Whether the attachment is new (True) or repeats a recorded one to another party
    (False); :class:`RefusedStep` when it contradicts the record."""
    if existing is None:
        return True
    if existing.uploader != sender:
        raise NotPermitted(
            f"evidence {payload.evidence_id} was attached by {existing.uploader}, not by {sender}"
        )
    same = (existing.case_id, existing.sha256, existing.size, existing.object) == (
        payload.case_id,
        payload.sha256,
        payload.size,
        payload.object,
    )
    if not same:
        raise RefusedStep(
            f"evidence {payload.evidence_id} is already attached with another case, "
            "digest, size or object"
        )
    return False


def check_received(
    existing: AttachedEvidence | None, sender: str, payload: EvidenceReceived
) -> None:
    """Refuse a receipt for evidence not attached to the case, or by its own uploader."""
    if existing is None or existing.case_id != payload.case_id:
        raise RefusedStep(
            f"no evidence {payload.evidence_id} is attached to case {payload.case_id}"
        )
    if existing.uploader == sender:
        raise NotPermitted(
            f"{sender} attached evidence {payload.evidence_id}: it cannot receipt it itself"
        )


def check_referral(payload: EvidenceAttached, referral_ids: frozenset[str]) -> None:
    """Evidence that travels with a referral names one of the case's referrals."""
    if payload.referral_id is not None and payload.referral_id not in referral_ids:
        raise RefusedStep(
            f"evidence {payload.evidence_id} names referral {payload.referral_id}, "
            f"which is not on case {payload.case_id}"
        )
