"""What the coordinator remembers of credit listings: one row per company and list."""

from datetime import date, datetime

from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.credit import CreditList, ListingState
from services.coordinator.cases.parties import PartyCaseRecord
from services.coordinator.credit.rules import Listing
from services.coordinator.store import CoordinatorTable
from services.runtime.storage import UtcTimestamp

__all__ = [
    "CreditListingRecord",
    "agency_ids_naming",
    "case_names",
    "listings_named_in",
    "load_listing",
    "save_listing",
]


class CreditListingRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_credit_listing"

    credit_code: str = Field(primary_key=True, max_length=18)
    credit_list: str = Field(primary_key=True, max_length=40)
    party_name: str
    state: str = Field(max_length=20)
    listed_by: str = Field(max_length=63)
    case_id: str = Field(max_length=26)
    decision_ref: str
    listed_at: datetime = Field(sa_type=UtcTimestamp)
    removal_from: date
    expires_on: date
    delisted_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    delisting_reason: str | None = Field(default=None, max_length=40)


def _listing(row: CreditListingRecord) -> Listing:
    return Listing(
        credit_code=row.credit_code,
        credit_list=CreditList(row.credit_list),
        party_name=row.party_name,
        state=ListingState(row.state),
        listed_by=row.listed_by,
        case_id=row.case_id,
        decision_ref=row.decision_ref,
        listed_at=row.listed_at,
        removal_from=row.removal_from,
        expires_on=row.expires_on,
        delisted_at=row.delisted_at,
        delisting_reason=row.delisting_reason,
    )


async def load_listing(
    session: AsyncSession, credit_code: str, credit_list: CreditList
) -> Listing | None:
    row = await session.get(CreditListingRecord, (credit_code, credit_list.value))
    return None if row is None else _listing(row)


async def save_listing(session: AsyncSession, listing: Listing) -> None:
    await session.merge(
        CreditListingRecord(
            credit_code=listing.credit_code,
            credit_list=listing.credit_list.value,
            party_name=listing.party_name,
            state=listing.state.value,
            listed_by=listing.listed_by,
            case_id=listing.case_id,
            decision_ref=listing.decision_ref,
            listed_at=listing.listed_at,
            removal_from=listing.removal_from,
            expires_on=listing.expires_on,
            delisted_at=listing.delisted_at,
            delisting_reason=listing.delisting_reason,
        )
    )
    await session.flush()


async def agency_ids_naming(session: AsyncSession, credit_code: str) -> list[str]:
    """The agencies that opened a case naming the company (from the party index)."""
    rows = await session.exec(
        select(PartyCaseRecord.agency_id).where(PartyCaseRecord.credit_code == credit_code)
    )
    return sorted(set(rows))


async def case_names(session: AsyncSession, case_id: str, credit_code: str) -> bool:
    """Whether the party index has the company on the case."""
    rows = await session.exec(
        select(PartyCaseRecord.case_id).where(
            PartyCaseRecord.case_id == case_id, PartyCaseRecord.credit_code == credit_code
        )
    )
    return rows.first() is not None


async def listings_named_in(session: AsyncSession, case_id: str) -> list[Listing]:
    """Every listing of a company the case names (its own, and the party's other cases')."""
    codes = select(PartyCaseRecord.credit_code).where(PartyCaseRecord.case_id == case_id)
    rows = await session.exec(
        select(CreditListingRecord)
        .where(col(CreditListingRecord.credit_code).in_(codes))
        .order_by(col(CreditListingRecord.credit_code), col(CreditListingRecord.credit_list))
    )
    return [_listing(row) for row in rows]
