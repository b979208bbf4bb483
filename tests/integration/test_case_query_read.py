"""The ``case`` answer, read in one statement, on SQLite and PostgreSQL: the same case as the
coordinator's stores read table by table, and need-to-know for the case and its links."""

from datetime import UTC, date, datetime, timedelta

import pytest
import structlog

from contracts.cases import CaseStatus
from contracts.identifiers import new_ulid
from contracts.queries import CaseQuery
from contracts.referrals import ReferralState
from contracts.subjects import COORDINATOR
from services.coordinator.cases.case_query import NOT_FOUND, answer_case_query
from services.coordinator.cases.domain import CaseFile, CaseReferral, TimelineLine, may_see
from services.coordinator.cases.parties import PartyCaseRecord, linked_case_ids
from services.coordinator.cases.store import append_timeline, load_case, save_case
from services.coordinator.credit.rules import listing_view
from services.coordinator.credit.store import CreditListingRecord, listings_named_in
from services.coordinator.evidence.store import (
    EvidenceReceiptRecord,
    EvidenceRecord,
    case_evidence,
)
from services.runtime.storage import Database
from tests.integration.stored_case import case_view

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC)
CODE = "91310000MA1K000001"
CUSTOMS, AMR, BEIJING = "customs-shanghai", "amr-shanghai", "amr-beijing"


def _case(parties: dict[str, str | None], referral: CaseReferral | None = None) -> CaseFile:
    return CaseFile(
        case_id=new_ulid(),
        title="Counterfeit shoes",
        status=CaseStatus.INVESTIGATING,
        parties=parties,
        referrals={referral.referral_id: referral} if referral else {},
    )


async def _seed(database: Database) -> tuple[CaseFile, CaseFile, CaseFile]:
    """A case shared by customs and the AMR, with everything the answer shows; a linked case
    customs is party to, and one it is not."""
    referral = CaseReferral(
        new_ulid(), "customs_to_enforcement", CUSTOMS, AMR, ReferralState.ACCEPTED, NOW, NOW
    )
    case = _case({CUSTOMS: "SH-CUS-1", AMR: None}, referral)
    shared, hidden = _case({CUSTOMS: "SH-CUS-2"}), _case({BEIJING: None})
    evidence_id = new_ulid()
    async with database.transaction() as session:
        for file in (case, shared, hidden):
            save_case(session, file, NOW)
            session.add(
                PartyCaseRecord(
                    credit_code=CODE,
                    case_id=file.case_id,
                    agency_id=next(iter(file.parties)),
                    party_name="Shoe Co",
                    seen_at=NOW,
                )
            )
        for minutes, event_type in enumerate(["case.opened", "referral.issued"]):
            append_timeline(
                session,
                case.case_id,
                TimelineLine(
                    new_ulid(),
                    event_type,
                    CUSTOMS,
                    COORDINATOR,
                    NOW - timedelta(minutes=minutes),  # apply order wins over the clock
                    event_type,
                    CaseStatus.OPEN,
                ),
            )
        session.add(
            CreditListingRecord(
                credit_code=CODE,
                credit_list="serious_violation",
                party_name="Shoe Co",
                state="listed",
                listed_by=AMR,
                case_id=hidden.case_id,
                decision_ref="SH-2026-1",
                listed_at=NOW,
                removal_from=date(2027, 11, 25),
                expires_on=date(2029, 11, 25),
            )
        )
        session.add(
            EvidenceRecord(
                evidence_id=evidence_id,
                case_id=case.case_id,
                referral_id=referral.referral_id,
                kind="photo",
                title="Seized goods",
                media_type="image/jpeg",
                size=10,
                sha256="a" * 64,
                object=f"{case.case_id}/{evidence_id}",
                uploader=CUSTOMS,
                attached_at=NOW,
                event_id=new_ulid(),
            )
        )
        session.add(
            EvidenceReceiptRecord(
                event_id=new_ulid(),
                evidence_id=evidence_id,
                agency_id=AMR,
                outcome="verified",
                sha256="a" * 64,
                received_at=NOW + timedelta(seconds=1),
            )
        )
    return case, shared, hidden


async def _as_stored(database: Database, case_id: str, requester: str) -> object:
    """The answer as the stores read it, one table (and one linked case) at a time."""
    async with database.transaction() as session:
        case = await load_case(session, case_id)
        assert case is not None
        linked = [
            other
            for other in await linked_case_ids(session, case_id)
            if (file := await load_case(session, other)) and may_see(file, requester)
        ]
        return (await case_view(session, case)).model_copy(
            update={
                "linked_case_ids": linked,
                "credit_listings": [
                    listing_view(x) for x in await listings_named_in(session, case_id)
                ],
                "evidence": await case_evidence(session, case_id),
            }
        )


async def _ask(database: Database, requester: str, case_id: str) -> object:
    body = CaseQuery(case_id=case_id).model_dump_json().encode()
    async with database.transaction() as session:
        asked, reply = await answer_case_query(session, requester, body, log=structlog.get_logger())
    assert asked == case_id
    return reply.case if reply.case is not None else reply.error


async def test_the_one_statement_answer_is_the_case_as_stored(database: Database) -> None:
    case, shared, hidden = await _seed(database)
    answer = await _ask(database, CUSTOMS, case.case_id)
    assert answer == await _as_stored(database, case.case_id, CUSTOMS)
    assert answer.linked_case_ids == [shared.case_id]  # type: ignore[attr-defined]
    assert [e.event_type for e in answer.timeline] == ["case.opened", "referral.issued"]  # type: ignore[attr-defined]
    assert answer.evidence[0].receipts[0].agency_id == AMR  # type: ignore[attr-defined]
    assert answer.credit_listings[0].listed_at == NOW  # type: ignore[attr-defined]
    # the statement is built once: bound to another party, it shows what that one may see
    from_amr = await _ask(database, AMR, case.case_id)
    assert from_amr == await _as_stored(database, case.case_id, AMR)
    assert from_amr.linked_case_ids == []  # type: ignore[attr-defined]
    everything = await _ask(database, COORDINATOR, case.case_id)
    assert everything.linked_case_ids == sorted([shared.case_id, hidden.case_id])  # type: ignore[attr-defined]


async def test_a_stranger_and_a_missing_case_get_the_same_not_found(database: Database) -> None:
    case, _, hidden = await _seed(database)
    assert await _ask(database, BEIJING, case.case_id) == NOT_FOUND
    assert await _ask(database, CUSTOMS, hidden.case_id) == NOT_FOUND
    assert await _ask(database, CUSTOMS, new_ulid()) == NOT_FOUND
