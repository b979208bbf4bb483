"""Who may attach and receipt evidence, from the evidence's own history. Pure.

The case's party check (:func:`services.coordinator.cases.domain.check_party`) has already
run: the sender is a party. Here: an evidence id names one object, one digest, one
uploader — the same ``evidence.attached`` addressed to several parties repeats it exactly;
a receipt answers evidence attached to the same case, by a party other than the uploader.
"""

from dataclasses import dataclass

from contracts.evidence import EvidenceAttached, EvidenceReceived
from services.coordinator.cases.domain import NotPermitted, RefusedStep

__all__ = ["AttachedEvidence", "check_attached", "check_received", "check_referral"]


@dataclass(frozen=True, slots=True)
class AttachedEvidence:
    """What the coordinator recorded of one piece of evidence."""

    evidence_id: str
    case_id: str
    uploader: str
    sha256: str
    size: int
    object: str


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
