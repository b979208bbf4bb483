"""The party index: which cases name which company, by unified social credit code.

One table, used both to spot repeat infringers and to link cases that share a party in the
case view. Natural persons are not indexed: they carry no credit code, and linking them
is not this bus's business.
"""

from datetime import datetime

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseOpened
from services.coordinator.linkage import PartySighting
from services.coordinator.store import CoordinatorTable
from services.runtime.timestamps import UtcTimestamp

__all__ = ["PartyCaseRecord", "index_parties", "linked_case_ids", "sightings_of"]


class PartyCaseRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_party_case"

    credit_code: str = Field(primary_key=True, max_length=18)
    case_id: str = Field(primary_key=True, index=True, max_length=26)
    agency_id: str = Field(primary_key=True, max_length=63)
    party_name: str
    seen_at: datetime = Field(sa_type=UtcTimestamp)


async def index_parties(
    session: AsyncSession, opened: CaseOpened, *, case_id: str, agency_id: str, now: datetime
) -> list[str]:
    """Record the companies named in ``opened``; the credit codes newly seen on this case."""
    new: list[str] = []
    for party in opened.parties:
        code = party.credit_code
        if code is None or code in new:
            continue
        if await session.get(PartyCaseRecord, (code, case_id, agency_id)) is None:
            session.add(
                PartyCaseRecord(
                    credit_code=code,
                    case_id=case_id,
                    agency_id=agency_id,
                    party_name=party.name,
                    seen_at=now,
                )
            )
            new.append(code)
    await session.flush()
    return new


async def sightings_of(session: AsyncSession, credit_code: str) -> list[PartySighting]:
    rows = await session.exec(
        select(PartyCaseRecord).where(PartyCaseRecord.credit_code == credit_code)
    )
    return [PartySighting(r.case_id, r.agency_id, r.seen_at) for r in rows]


async def linked_case_ids(session: AsyncSession, case_id: str) -> list[str]:
    """Other cases that name a company this case names, oldest id first."""
    codes = select(PartyCaseRecord.credit_code).where(PartyCaseRecord.case_id == case_id)
    rows = await session.exec(
        select(PartyCaseRecord.case_id)
        .where(col(PartyCaseRecord.credit_code).in_(codes), PartyCaseRecord.case_id != case_id)
        .distinct()
    )
    return sorted(rows)
