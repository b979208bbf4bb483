"""The party index: which cases name which company, by unified social credit code.

Two tables: every company named, whatever its role, to link cases that share a party in the
case view; and the sightings of a company in an infringer's role (with that role), which
alone the repeat-infringer signal counts. Natural persons are not indexed: they carry no
credit code, and linking them is not this bus's business.
"""

from datetime import datetime

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseOpened, PartyRole
from services.coordinator.signals.rules import INFRINGER_ROLES, PartySighting
from services.coordinator.store import CoordinatorTable
from services.runtime.storage import UtcTimestamp

__all__ = [
    "InfringerSightingRecord",
    "PartyCaseRecord",
    "index_parties",
    "linked_case_ids",
    "sightings_of",
]


class PartyCaseRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_party_case"

    credit_code: str = Field(primary_key=True, max_length=18)
    case_id: str = Field(primary_key=True, index=True, max_length=26)
    agency_id: str = Field(primary_key=True, max_length=63)
    party_name: str
    seen_at: datetime = Field(sa_type=UtcTimestamp)


class InfringerSightingRecord(CoordinatorTable, table=True):
    """A company named in an infringer's role (a table of its own, so an existing
    ``coordinator_party_case`` needs no migration; sightings start counting at upgrade)."""

    __tablename__ = "coordinator_infringer_sighting"

    credit_code: str = Field(primary_key=True, max_length=18)
    case_id: str = Field(primary_key=True, max_length=26)
    agency_id: str = Field(primary_key=True, max_length=63)
    role: str = Field(max_length=32)
    seen_at: datetime = Field(sa_type=UtcTimestamp)


async def index_parties(
    session: AsyncSession, opened: CaseOpened, *, case_id: str, agency_id: str, now: datetime
) -> list[str]:
    """Record the companies named in ``opened``; the credit codes newly seen on this case in
    an infringer's role (a company named twice is indexed in its infringer's role first)."""
    new: list[str] = []
    seen: set[str] = set()
    ordered = sorted(opened.parties, key=lambda party: party.role not in INFRINGER_ROLES)
    for party in ordered:
        code = party.credit_code
        if code is None or code in seen:
            continue
        seen.add(code)
        key = (code, case_id, agency_id)
        if await session.get(PartyCaseRecord, key) is None:
            session.add(
                PartyCaseRecord(
                    credit_code=code,
                    case_id=case_id,
                    agency_id=agency_id,
                    party_name=party.name,
                    seen_at=now,
                )
            )
        if (
            party.role in INFRINGER_ROLES
            and await session.get(InfringerSightingRecord, key) is None
        ):
            session.add(
                InfringerSightingRecord(
                    credit_code=code,
                    case_id=case_id,
                    agency_id=agency_id,
                    role=party.role.value,
                    seen_at=now,
                )
            )
            new.append(code)
    await session.flush()
    return new


async def sightings_of(session: AsyncSession, credit_code: str) -> list[PartySighting]:
    """The company's sightings in an infringer's role."""
    rows = await session.exec(
        select(InfringerSightingRecord).where(InfringerSightingRecord.credit_code == credit_code)
    )
    return [PartySighting(r.case_id, r.agency_id, r.seen_at, _role(r.role)) for r in rows]


def _role(stored: str) -> PartyRole:
    try:
        return PartyRole(stored)
    except ValueError:
        return PartyRole.OTHER


async def linked_case_ids(session: AsyncSession, case_id: str) -> list[str]:
    """Other cases that name a company this case names, oldest id first."""
    codes = select(PartyCaseRecord.credit_code).where(PartyCaseRecord.case_id == case_id)
    rows = await session.exec(
        select(PartyCaseRecord.case_id)
        .where(col(PartyCaseRecord.credit_code).in_(codes), PartyCaseRecord.case_id != case_id)
        .distinct()
    )
    return sorted(rows)
