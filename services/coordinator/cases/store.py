"""The case files' tables: case files, their parties and referrals, and the timeline.

A case file's judgment stage is the last judgment line of its timeline (``seq`` is apply
order), read with the file: no column of its own, so no migration.
"""

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam
from sqlalchemy import select as core_select
from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseStatus
from contracts.referrals import ReferralState
from services.coordinator.cases.domain import (
    JUDGMENT_TYPES,
    CaseFile,
    CaseReferral,
    TimelineLine,
)
from services.coordinator.store import CoordinatorTable
from services.runtime.storage import execute, json_array, json_rows, pending_writes, table_of

__all__ = [
    "CaseFiles",
    "CaseRecord",
    "CaseReferralRecord",
    "TimelineRecord",
    "append_timeline",
    "load_case",
    "load_referral",
    "save_case",
]


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


async def load_case(session: AsyncSession, case_id: str) -> CaseFile | None:
    """The case file as committed (a query's read; the pipeline keeps :class:`CaseFiles`)."""
    return (await _read_cases(session, {case_id})).get(case_id)


class CaseFiles:
    """The case files one transaction reads and saves, kept by case id.

    A batch's files are read at once (:meth:`preload`); a saved file's rows are written at
    commit, so until then this is where it is read back from.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._files: dict[str, CaseFile | None] = {}

    async def preload(self, case_ids: set[str]) -> None:
        """Read these case files in one statement; :meth:`get` then answers them."""
        wanted = case_ids - self._files.keys()
        if not wanted:
            return
        found = await _read_cases(self._session, wanted)
        self._files.update({case_id: found.get(case_id) for case_id in wanted})

    async def get(self, case_id: str) -> CaseFile | None:
        """The case file as this transaction last saved or read it, else from its rows."""
        if case_id not in self._files:
            self._files[case_id] = await load_case(self._session, case_id)
        return self._files[case_id]

    def save(self, case: CaseFile, now: datetime, before: CaseFile | None) -> None:
        """Write the case file at commit (with ``before``, only what changed)."""
        self._files[case.case_id] = case
        save_case(self._session, case, now, before)

    async def referral(self, referral_id: str) -> CaseReferral | None:
        """The referral as this transaction's case files hold it, else from its row."""
        for case in self._files.values():
            if case is not None and (referral := case.referrals.get(referral_id)) is not None:
                return referral
        return await load_referral(self._session, referral_id)


async def _read_cases(session: AsyncSession, case_ids: set[str]) -> dict[str, CaseFile]:
    """One statement: each case row with its parties, referrals and judgment lines as JSON
    arrays (a lone event at a trickle pays one read for its case file, not four)."""
    records = await execute(
        session,
        _case_files_statement(session.get_bind().dialect.name),
        {"case_ids": list(case_ids)},
    )
    files: dict[str, CaseFile] = {}
    for row in records:
        mine = json_rows(row.parties)
        judgments = sorted(json_rows(row.judgments), key=lambda line: line["seq"])
        files[row.case_id] = CaseFile(
            case_id=row.case_id,
            title=row.title,
            status=CaseStatus(row.status),
            parties={p["agency_id"]: p["local_ref"] for p in mine},
            opened=frozenset(p["agency_id"] for p in mine if p["opened"]),
            closed=frozenset(p["agency_id"] for p in mine if p["closed"]),
            referrals={
                r["referral_id"]: _referral(r) for r in json_rows(row.referrals, REFERRAL_TIMES)
            },
            judgment=JUDGMENT_TYPES[judgments[-1]["event_type"]] if judgments else None,
        )
    return files


@cache
def _case_files_statement(dialect: str) -> Select[Any]:
    """Built once per dialect: building it and its cache key took 0.8 ms, a sixth of what a
    lone event cost the coordinator at a trickle."""
    cases, parties, referrals = (
        table_of(CaseRecord),
        table_of(CasePartyRecord),
        table_of(CaseReferralRecord),
    )
    timeline = table_of(TimelineRecord)
    return core_select(
        cases.c.case_id,
        cases.c.title,
        cases.c.status,
        json_array(
            dialect,
            [parties.c.agency_id, parties.c.local_ref, parties.c.opened, parties.c.closed],
            parties.c.case_id == cases.c.case_id,
        ).label("parties"),
        json_array(
            dialect,
            [c for c in referrals.c if c.name != "case_id"],
            referrals.c.case_id == cases.c.case_id,
        ).label("referrals"),
        json_array(
            dialect,
            [timeline.c.seq, timeline.c.event_type],
            timeline.c.case_id == cases.c.case_id,
            timeline.c.event_type.in_(JUDGMENT_TYPES),
        ).label("judgments"),
    ).where(cases.c.case_id.in_(bindparam("case_ids", expanding=True)))


async def load_referral(session: AsyncSession, referral_id: str) -> CaseReferral | None:
    """The referral as committed."""
    referrals = table_of(CaseReferralRecord)
    row = (
        await execute(session, core_select(referrals).where(referrals.c.referral_id == referral_id))
    ).first()
    return _referral(row._mapping) if row is not None else None


REFERRAL_TIMES = ("issued_at", "updated_at")


def _referral(row: Mapping[Any, Any]) -> CaseReferral:
    return CaseReferral(
        row["referral_id"],
        row["kind"],
        row["sender"],
        row["recipient"],
        ReferralState(row["state"]),
        row["issued_at"],
        row["updated_at"],
        row["supervisor"],
    )


def save_case(
    session: AsyncSession, case: CaseFile, now: datetime, before: CaseFile | None = None
) -> None:
    """Upsert the case file at commit; with ``before``, only the parties and referrals
    that changed (read it back through :class:`CaseFiles` until then)."""
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
