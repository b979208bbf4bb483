"""The coordinator's tables: case files, their parties and referrals, and the timeline."""

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseStatus
from contracts.queries import CaseParty, CaseView, ReferralView, TimelineEntry
from contracts.referrals import ReferralKind, ReferralState
from services.coordinator.domain import CaseFile, CaseReferral, TimelineLine
from services.runtime.storage import declare_history, execute, pending_writes, table_of

__all__ = [
    "CoordinatorTable",
    "append_timeline",
    "case_view",
    "load_case",
    "load_referral",
    "preload_cases",
    "save_case",
]


class CoordinatorTable(SQLModel, registry=registry()):
    """Base of the coordinator's own tables (a change to them needs a revision in
    ``services/coordinator/migrations``: ``ipbus db revision coordinator``)."""


declare_history(CoordinatorTable.metadata, "coordinator", Path(__file__).parent / "migrations")


class CaseRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_case"

    case_id: str = Field(primary_key=True, max_length=26)
    title: str = ""
    status: str = Field(max_length=20)
    updated_at: datetime


class CasePartyRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_case_party"

    case_id: str = Field(primary_key=True, max_length=26)
    agency_id: str = Field(primary_key=True, max_length=63)
    local_ref: str | None = None
    opened: bool = False
    closed: bool = False


class CaseReferralRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_referral"

    referral_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    kind: str = Field(max_length=40)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    state: str = Field(max_length=20)
    issued_at: datetime
    updated_at: datetime
    supervisor: str | None = Field(default=None, max_length=63)


class TimelineRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_timeline"

    seq: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=26)
    event_id: str = Field(unique=True, max_length=26)
    event_type: str = Field(max_length=60)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    time: datetime
    summary: str
    status_after: str = Field(max_length=20)


_CASE_FILES = "ipbus.coordinator.case_files"
"""Key in ``session.info``: the case files this transaction saved, whose rows are pending."""


def _saved_cases(session: AsyncSession) -> dict[str, CaseFile]:
    """Saved (their rows are pending) or preloaded in this transaction, by case id."""
    saved: dict[str, CaseFile] = session.info.setdefault(_CASE_FILES, {})
    return saved


_ABSENT = "ipbus.coordinator.absent_cases"
"""Key in ``session.info``: case ids a preload found no row for."""


async def load_case(session: AsyncSession, case_id: str) -> CaseFile | None:
    """The case file: as this transaction last saved or preloaded it, else from its rows."""
    if (saved := _saved_cases(session).get(case_id)) is not None:
        return saved
    if case_id in session.info.get(_ABSENT, ()):
        return None
    return (await _read_cases(session, {case_id})).get(case_id)


async def preload_cases(session: AsyncSession, case_ids: set[str]) -> None:
    """Read a batch's case files in three statements; :func:`load_case` then answers them."""
    wanted = case_ids - _saved_cases(session).keys()
    if not wanted:
        return
    found = await _read_cases(session, wanted)
    _saved_cases(session).update(found)
    session.info.setdefault(_ABSENT, set()).update(wanted - found.keys())


async def _read_cases(session: AsyncSession, case_ids: set[str]) -> dict[str, CaseFile]:
    cases, parties, referrals = (
        table_of(CaseRecord),
        table_of(CasePartyRecord),
        table_of(CaseReferralRecord),
    )
    records = await execute(session, core_select(cases).where(cases.c.case_id.in_(case_ids)))
    files = {
        r.case_id: CaseFile(case_id=r.case_id, title=r.title, status=CaseStatus(r.status))
        for r in records
    }
    if not files:
        return {}
    party_rows = await execute(session, core_select(parties).where(parties.c.case_id.in_(files)))
    parties_of: dict[str, list[Any]] = defaultdict(list)
    for row in party_rows:
        parties_of[row.case_id].append(row)
    referral_rows = await execute(
        session, core_select(referrals).where(referrals.c.case_id.in_(files))
    )
    referrals_of: dict[str, list[Any]] = defaultdict(list)
    for row in referral_rows:
        referrals_of[row.case_id].append(row)
    for case_id, case in files.items():
        mine = parties_of[case_id]
        files[case_id] = replace(
            case,
            parties={p.agency_id: p.local_ref for p in mine},
            opened=frozenset(p.agency_id for p in mine if p.opened),
            closed=frozenset(p.agency_id for p in mine if p.closed),
            referrals={r.referral_id: _referral(r) for r in referrals_of[case_id]},
        )
    return files


async def load_referral(session: AsyncSession, referral_id: str) -> CaseReferral | None:
    for case in _saved_cases(session).values():
        if (referral := case.referrals.get(referral_id)) is not None:
            return referral
    referrals = table_of(CaseReferralRecord)
    row = (
        await execute(session, core_select(referrals).where(referrals.c.referral_id == referral_id))
    ).first()
    return _referral(row) if row is not None else None


def _referral(row: Any) -> CaseReferral:
    return CaseReferral(
        row.referral_id,
        row.kind,
        row.sender,
        row.recipient,
        ReferralState(row.state),
        row.issued_at,
        row.updated_at,
        row.supervisor,
    )


async def save_case(
    session: AsyncSession, case: CaseFile, now: datetime, before: CaseFile | None = None
) -> None:
    """Upsert the case file at commit; with ``before``, only the parties and referrals
    that changed. Until then :func:`load_case` answers from the saved case file."""
    _saved_cases(session)[case.case_id] = case
    writes = pending_writes(session)
    writes.upsert(
        table_of(CaseRecord),
        {
            "case_id": case.case_id,
            "title": case.title,
            "status": case.status.value,
            "updated_at": now,
        },
    )
    for agency_id, local_ref in case.parties.items():
        if before is not None and _party(before, agency_id) == _party(case, agency_id):
            continue
        writes.upsert(
            table_of(CasePartyRecord),
            {
                "case_id": case.case_id,
                "agency_id": agency_id,
                "local_ref": local_ref,
                "opened": agency_id in case.opened,
                "closed": agency_id in case.closed,
            },
        )
    for r in case.referrals.values():
        if before is not None and before.referrals.get(r.referral_id) == r:
            continue
        writes.upsert(
            table_of(CaseReferralRecord),
            {
                "referral_id": r.referral_id,
                "case_id": case.case_id,
                "kind": r.kind,
                "sender": r.sender,
                "recipient": r.recipient,
                "state": r.state.value,
                "issued_at": r.issued_at,
                "updated_at": r.updated_at,
                "supervisor": r.supervisor,
            },
        )


def _party(case: CaseFile, agency_id: str) -> tuple[bool, str | None, bool, bool]:
    """What the party row of ``agency_id`` holds (first: whether there is one)."""
    return (
        agency_id in case.parties,
        case.parties.get(agency_id),
        agency_id in case.opened,
        agency_id in case.closed,
    )


def append_timeline(session: AsyncSession, case_id: str, line: TimelineLine) -> None:
    """Add the line at commit, after every line added before it (``seq`` is apply order)."""
    pending_writes(session).insert(
        table_of(TimelineRecord),
        {
            "case_id": case_id,
            "event_id": line.event_id,
            "event_type": line.event_type,
            "sender": line.sender,
            "recipient": line.recipient,
            "time": line.time,
            "summary": line.summary,
            "status_after": line.status_after.value,
        },
    )


async def case_view(session: AsyncSession, case: CaseFile) -> CaseView:
    """The case as a query answer, timeline in the order the coordinator applied it."""
    timeline = table_of(TimelineRecord)
    lines = await execute(
        session,
        core_select(timeline).where(timeline.c.case_id == case.case_id).order_by(timeline.c.seq),
    )
    return CaseView(
        case_id=case.case_id,
        title=case.title,
        status=case.status,
        parties=[CaseParty(agency_id=a, local_ref=ref) for a, ref in sorted(case.parties.items())],
        referrals=[
            ReferralView(
                referral_id=r.referral_id,
                kind=ReferralKind(r.kind),
                sender=r.sender,
                recipient=r.recipient,
                state=r.state,
                issued_at=r.issued_at,
                updated_at=r.updated_at,
            )
            for r in sorted(case.referrals.values(), key=lambda r: r.issued_at)
        ],
        timeline=[
            TimelineEntry(
                seq=line.seq or 0,
                event_id=line.event_id,
                event_type=line.event_type,
                sender=line.sender,
                recipient=line.recipient,
                time=line.time,
                summary=line.summary,
                status_after=CaseStatus(line.status_after),
            )
            for line in lines
        ],
    )
