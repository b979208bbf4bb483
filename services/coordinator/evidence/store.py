"""The coordinator's record of evidence and receipts, and the case query's view of them."""

from datetime import datetime

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.evidence import EvidenceAttached, EvidenceReceived
from contracts.queries import EvidenceReceiptView, EvidenceView
from services.coordinator.evidence.rules import AttachedEvidence, StoredUpload
from services.coordinator.store import CoordinatorTable

__all__ = [
    "EvidenceReceiptRecord",
    "EvidenceRecord",
    "EvidenceUploadRecord",
    "case_evidence",
    "load_evidence",
    "load_upload",
    "record_attached",
    "record_received",
    "record_upload",
]


class EvidenceRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_evidence"

    evidence_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    referral_id: str | None = Field(default=None, max_length=26)
    kind: str = Field(max_length=40)
    title: str
    media_type: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64)
    object: str = Field(max_length=120)
    uploader: str = Field(max_length=63)
    attached_at: datetime
    event_id: str = Field(max_length=26)


class EvidenceReceiptRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_evidence_receipt"

    event_id: str = Field(primary_key=True, max_length=26)
    evidence_id: str = Field(index=True, max_length=26)
    agency_id: str = Field(max_length=63)
    outcome: str = Field(max_length=12)
    sha256: str = Field(max_length=64)
    reason: str = ""
    received_at: datetime


class EvidenceUploadRecord(CoordinatorTable, table=True):
    """Bytes the hub stored in the bucket for an uploader: what it computed over them."""

    __tablename__ = "coordinator_evidence_upload"

    evidence_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    uploader: str = Field(max_length=63)
    size: int
    sha256: str = Field(max_length=64)
    media_type: str | None = Field(default=None, max_length=255)
    stored_at: datetime


async def load_upload(session: AsyncSession, evidence_id: str) -> StoredUpload | None:
    record = await session.get(EvidenceUploadRecord, evidence_id)
    if record is None:
        return None
    return StoredUpload(
        evidence_id=record.evidence_id,
        case_id=record.case_id,
        uploader=record.uploader,
        sha256=record.sha256,
        size=record.size,
    )


def record_upload(
    session: AsyncSession, stored: StoredUpload, *, media_type: str | None, at: datetime
) -> None:
    session.add(
        EvidenceUploadRecord(
            evidence_id=stored.evidence_id,
            case_id=stored.case_id,
            uploader=stored.uploader,
            size=stored.size,
            sha256=stored.sha256,
            media_type=media_type,
            stored_at=at,
        )
    )


async def load_evidence(session: AsyncSession, evidence_id: str) -> AttachedEvidence | None:
    record = await session.get(EvidenceRecord, evidence_id)
    if record is None:
        return None
    return AttachedEvidence(
        evidence_id=record.evidence_id,
        case_id=record.case_id,
        uploader=record.uploader,
        sha256=record.sha256,
        size=record.size,
        object=record.object,
    )


def record_attached(
    session: AsyncSession, payload: EvidenceAttached, *, uploader: str, event_id: str, at: datetime
) -> None:
    session.add(
        EvidenceRecord(
            evidence_id=payload.evidence_id,
            case_id=payload.case_id,
            referral_id=payload.referral_id,
            kind=payload.kind.value,
            title=payload.title,
            media_type=payload.media_type,
            size=payload.size,
            sha256=payload.sha256,
            object=payload.object,
            uploader=uploader,
            attached_at=at,
            event_id=event_id,
        )
    )


def record_received(
    session: AsyncSession, payload: EvidenceReceived, *, agency: str, event_id: str, at: datetime
) -> None:
    session.add(
        EvidenceReceiptRecord(
            event_id=event_id,
            evidence_id=payload.evidence_id,
            agency_id=agency,
            outcome=payload.outcome.value,
            sha256=payload.sha256,
            reason=payload.reason,
            received_at=at,
        )
    )


async def case_evidence(session: AsyncSession, case_id: str) -> list[EvidenceView]:
    """The case's evidence, oldest first, each with its receipts."""
    records = (
        await session.exec(
            select(EvidenceRecord)
            .where(EvidenceRecord.case_id == case_id)
            .order_by(col(EvidenceRecord.attached_at), col(EvidenceRecord.evidence_id))
        )
    ).all()
    if not records:
        return []
    ids = [r.evidence_id for r in records]
    receipts = (
        await session.exec(
            select(EvidenceReceiptRecord)
            .where(col(EvidenceReceiptRecord.evidence_id).in_(ids))
            .order_by(col(EvidenceReceiptRecord.received_at), col(EvidenceReceiptRecord.event_id))
        )
    ).all()
    return [
        EvidenceView(
            evidence_id=r.evidence_id,
            referral_id=r.referral_id,
            kind=r.kind,
            title=r.title,
            media_type=r.media_type,
            size=r.size,
            sha256=r.sha256,
            object=r.object,
            uploader=r.uploader,
            attached_at=r.attached_at,
            receipts=[
                EvidenceReceiptView(
                    agency_id=x.agency_id,
                    outcome=x.outcome,
                    sha256=x.sha256,
                    reason=x.reason,
                    received_at=x.received_at,
                )
                for x in receipts
                if x.evidence_id == r.evidence_id
            ],
        )
        for r in records
    ]
