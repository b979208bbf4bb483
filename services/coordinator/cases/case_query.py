"""Answering the ``case`` query: the case file and its timeline, need-to-know.

The whole answer is read in one statement: the case row, with each of its collections
(parties, referrals, timeline, linked cases, credit listings, evidence and receipts) as a
JSON array from a correlated subquery (``json_agg`` on PostgreSQL, ``json_group_array`` on
SQLite). A query then costs one round trip before its audit row, not one per table and
per linked case, and holds no lock: it reads what is committed, beside the event consumer.
"""

from functools import cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Row, and_, bindparam, exists
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseStatus
from contracts.credit import CreditListingView
from contracts.queries import (
    CaseParty,
    CaseQuery,
    CaseReply,
    CaseView,
    EvidenceReceiptView,
    EvidenceView,
    ReferralView,
    TimelineEntry,
)
from services.coordinator.cases.domain import CaseFile, may_see
from services.coordinator.cases.parties import PartyCaseRecord
from services.coordinator.cases.store import (
    CasePartyRecord,
    CaseRecord,
    CaseReferralRecord,
    TimelineRecord,
)
from services.coordinator.credit.store import CreditListingRecord
from services.coordinator.evidence.store import EvidenceReceiptRecord, EvidenceRecord
from services.runtime.ops import Logger
from services.runtime.storage import execute, json_array, json_rows, table_of

__all__ = ["NOT_FOUND", "answer_case_query"]

NOT_FOUND = "case not found, or not shared with you"

_TIMES = frozenset(
    {"issued_at", "updated_at", "time", "attached_at", "received_at", "listed_at", "delisted_at"}
)
"""The columns read as times: JSON carries them as text (PostgreSQL in the session's time
zone, SQLite as stored), so each is read back as aware UTC, as the column type would."""


async def answer_case_query(
    session: AsyncSession, requester: str, body: bytes, *, log: Logger
) -> tuple[str | None, CaseReply]:
    """The case asked about, and the case, if ``requester`` is party to it (with the linked
    cases it may see too, and the credit standing of the companies it names); the same "not
    found" otherwise."""
    try:
        query = CaseQuery.model_validate_json(body)
    except ValidationError as exc:
        return None, CaseReply(error=f"bad query: {exc.errors(include_url=False)[0]['msg']}")
    dialect = session.get_bind().dialect.name
    sees_all = may_see(CaseFile(case_id=""), requester)  # the coordinator may see every case
    params = {"case_id": query.case_id} | ({} if sees_all else {"requester": requester})
    row = (await execute(session, _case_answer(dialect, sees_all=sees_all), params)).first()
    case = (
        CaseFile(
            case_id=row.case_id,
            title=row.title,
            status=CaseStatus(row.status),
            parties={p["agency_id"]: p["local_ref"] for p in _rows(row.parties)},
        )
        if row is not None
        else None
    )
    if row is None or case is None or not may_see(case, requester):
        log.info("case query refused", requester=requester, case_id=query.case_id)
        return query.case_id, CaseReply(error=NOT_FOUND)
    return query.case_id, CaseReply(case=_view(case, row))


@cache
def _case_answer(dialect: str, *, sees_all: bool) -> Any:
    """The one statement: the case row and its collections, each a JSON array (or NULL).
    Built once per dialect and kind of requester (building it and its cache key took
    2.2 ms a query); the case and the requester are bound parameters."""
    case = table_of(CaseRecord)
    party, referral, timeline = (
        table_of(CasePartyRecord),
        table_of(CaseReferralRecord),
        table_of(TimelineRecord),
    )
    listing, evidence, receipt = (
        table_of(CreditListingRecord),
        table_of(EvidenceRecord),
        table_of(EvidenceReceiptRecord),
    )
    index = table_of(PartyCaseRecord)
    mine, other = index.alias("mine"), index.alias("other")
    other_case, other_party = case.alias("other_case"), party.alias("other_party")
    # need-to-know of a linked case, as may_see: its file exists and the requester is party
    visible: ColumnElement[bool] = exists().where(other_case.c.case_id == other.c.case_id)
    if not sees_all:
        visible = and_(
            visible,
            exists().where(
                other_party.c.case_id == other.c.case_id,
                other_party.c.agency_id == bindparam("requester"),
            ),
        )
    codes = core_select(index.c.credit_code).where(index.c.case_id == case.c.case_id)
    attached = core_select(evidence.c.evidence_id).where(evidence.c.case_id == case.c.case_id)
    return core_select(
        case.c.case_id,
        case.c.title,
        case.c.status,
        json_array(
            dialect, [party.c.agency_id, party.c.local_ref], party.c.case_id == case.c.case_id
        ).label("parties"),
        json_array(
            dialect,
            [c for c in referral.c if c.name not in ("case_id", "supervisor")],
            referral.c.case_id == case.c.case_id,
        ).label("referrals"),
        json_array(
            dialect,
            [c for c in timeline.c if c.name != "case_id"],
            timeline.c.case_id == case.c.case_id,
        ).label("timeline"),
        json_array(
            dialect,
            [other.c.case_id],
            mine.c.case_id == case.c.case_id,
            other.c.credit_code == mine.c.credit_code,
            other.c.case_id != case.c.case_id,
            visible,
        ).label("linked"),
        json_array(dialect, list(listing.c), listing.c.credit_code.in_(codes)).label("listings"),
        json_array(
            dialect,
            [c for c in evidence.c if c.name not in ("case_id", "event_id")],
            evidence.c.case_id == case.c.case_id,
        ).label("evidence"),
        json_array(dialect, list(receipt.c), receipt.c.evidence_id.in_(attached)).label("receipts"),
    ).where(case.c.case_id == bindparam("case_id"))


def _rows(value: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return json_rows(value, _TIMES)


def _view(case: CaseFile, row: Row[Any]) -> CaseView:
    """The answer, each collection in the order the query has always shown it."""
    receipts = sorted(_rows(row.receipts), key=lambda x: (x["received_at"], x["event_id"]))
    return CaseView(
        case_id=case.case_id,
        title=case.title,
        status=case.status,
        parties=[CaseParty(agency_id=a, local_ref=ref) for a, ref in sorted(case.parties.items())],
        referrals=[
            ReferralView.model_validate(r)
            for r in sorted(_rows(row.referrals), key=lambda r: (r["issued_at"], r["referral_id"]))
        ],
        timeline=[
            TimelineEntry.model_validate(line)
            for line in sorted(_rows(row.timeline), key=lambda line: line["seq"])
        ],
        linked_case_ids=sorted({r["case_id"] for r in _rows(row.linked)}),
        credit_listings=[
            CreditListingView.model_validate(x)
            for x in sorted(_rows(row.listings), key=lambda x: (x["credit_code"], x["credit_list"]))
        ],
        evidence=[
            EvidenceView.model_validate(
                e
                | {
                    "receipts": [
                        EvidenceReceiptView.model_validate(x)
                        for x in receipts
                        if x["evidence_id"] == e["evidence_id"]
                    ]
                }
            )
            for e in sorted(_rows(row.evidence), key=lambda e: (e["attached_at"], e["evidence_id"]))
        ],
    )
