"""``ipbus case show`` lists a case's evidence with who verified or refused it."""

from datetime import UTC, datetime

from rich.console import Console

from contracts.cases import CaseStatus
from contracts.queries import CaseView, EvidenceReceiptView, EvidenceView
from services.cli.render import case_table

CASE = "01JABCDEFGHJKMNPQRSTVWXYZ1"
EVIDENCE = "01JABCDEFGHJKMNPQRSTVWXYZ0"
WHEN = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_the_case_lists_its_evidence_and_receipts() -> None:
    view = CaseView(
        case_id=CASE,
        title="Shoes",
        status=CaseStatus.REFERRED,
        parties=[],
        referrals=[],
        timeline=[],
        evidence=[
            EvidenceView(
                evidence_id=EVIDENCE,
                kind="inspection_report",
                title="Inspection report",
                media_type="application/pdf",
                size=48213,
                sha256="ab" * 32,
                object=f"{CASE}/{EVIDENCE}",
                uploader="customs-shanghai",
                attached_at=WHEN,
                receipts=[
                    EvidenceReceiptView(
                        agency_id="amr-shanghai",
                        outcome="verified",
                        sha256="ab" * 32,
                        received_at=WHEN,
                    ),
                    EvidenceReceiptView(
                        agency_id="psb-shanghai",
                        outcome="refused",
                        sha256="cd" * 32,
                        reason="sha256 mismatch",
                        received_at=WHEN,
                    ),
                ],
            )
        ],
    )
    console = Console(record=True, width=300)
    case_table(view, console)
    text = console.export_text()
    assert "Evidence" in text
    assert "amr-shanghai verified 2026-03-01 08:00:00" in text
    assert "psb-shanghai refused 2026-03-01 08:00:00 (sha256 mismatch)" in text
