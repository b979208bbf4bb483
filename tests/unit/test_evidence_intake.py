"""Uploads through the hub, without a broker: which chunk is taken, what an attachment must
repeat of the stored bytes, and the spool an idle upload leaves behind."""

import stat
from pathlib import Path

import pytest

from contracts.evidence import EVIDENCE_CHUNK_BYTES, EvidencePutQuery
from services.coordinator.cases.domain import NotPermitted, RefusedStep
from services.coordinator.evidence.intake import EvidenceIntake
from services.coordinator.evidence.rules import (
    ChunkVerdict,
    StoredUpload,
    check_chunk,
    check_stored,
)
from tests.unit.test_evidence_rules import (
    AMR,
    CASE,
    CUSTOMS,
    DIGEST,
    EVIDENCE,
    OTHER_CASE,
    attached,
)


def test_the_next_chunk_is_taken_a_repeat_acknowledged_a_gap_refused() -> None:
    assert check_chunk(2, 2, 10, 100, 1000) is ChunkVerdict.TAKE
    assert check_chunk(2, 1, 10, 100, 1000) is ChunkVerdict.AGAIN
    with pytest.raises(RefusedStep, match="chunk 1 is expected"):
        check_chunk(1, 3, 10, 100, 1000)


def test_a_chunk_past_the_limit_or_larger_than_a_chunk_is_refused() -> None:
    assert check_chunk(0, 0, 1000, 0, 1000) is ChunkVerdict.TAKE
    with pytest.raises(RefusedStep, match="larger than 1000 bytes"):
        check_chunk(1, 1, 1, 1000, 1000)
    with pytest.raises(RefusedStep, match="at most"):
        check_chunk(0, 0, EVIDENCE_CHUNK_BYTES + 1, 0, 10**9)


def stored(**changes: object) -> StoredUpload:
    values: dict[str, object] = {
        "evidence_id": EVIDENCE,
        "case_id": CASE,
        "uploader": CUSTOMS,
        "sha256": DIGEST,
        "size": 1000,
    }
    return StoredUpload(**(values | changes))  # type: ignore[arg-type]


def test_an_attachment_repeats_what_the_hub_stored_for_its_sender() -> None:
    check_stored(stored(), CUSTOMS, attached())
    with pytest.raises(RefusedStep, match="no bytes were stored"):
        check_stored(None, CUSTOMS, attached())
    with pytest.raises(NotPermitted, match="uploaded by customs-shanghai, not by amr"):
        check_stored(stored(), AMR, attached())
    with pytest.raises(RefusedStep, match="uploaded to case"):
        check_stored(stored(case_id=OTHER_CASE), CUSTOMS, attached())
    with pytest.raises(RefusedStep, match="stored as 1000 bytes"):
        check_stored(stored(), CUSTOMS, attached(size=999))
    with pytest.raises(RefusedStep, match="sha256"):
        check_stored(stored(sha256="cd" * 32), CUSTOMS, attached())


def test_an_idle_upload_is_dropped_with_its_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "left-by-a-crash.part").write_bytes(b"x")
    intake = EvidenceIntake(spool, limit=1000, idle_s=60)
    intake.start()
    assert list(spool.iterdir()) == []
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    query = EvidencePutQuery(evidence_id=EVIDENCE, case_id=CASE)
    upload = intake._open_upload(CUSTOMS, query, now=100.0)
    assert stat.S_IMODE(upload.path.stat().st_mode) == 0o600
    assert intake.drop_idle(150.0) == []
    assert intake.drop_idle(161.0) == [EVIDENCE]
    assert (intake.open_uploads, list(spool.iterdir())) == (0, [])
