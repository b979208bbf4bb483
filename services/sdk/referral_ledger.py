"""An agency's ledger of referrals: one row per referral it sent, received or supervises,
stepped by the one state machine in :mod:`contracts.referrals`."""

from datetime import datetime

from sqlmodel import Field

from contracts.base import Payload
from contracts.referrals import IllegalReferralStep, ReferralParty, ReferralState, step_referral
from services.runtime.bus import StepRefused
from services.runtime.storage import RuntimeTable
from services.sdk.rows import find_row
from services.sdk.service import UnitOfWork

__all__ = ["ReferralRecord", "agency_of", "in_ledger", "party_of", "receipt_number", "step_record"]


class ReferralRecord(RuntimeTable, table=True):
    """One referral as this agency sees it (``role``: which end of it we are)."""

    __tablename__ = "ipbus_referral"

    referral_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    kind: str = Field(max_length=40)
    role: str = Field(max_length=10)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    state: str = Field(max_length=20)
    supervisor: str | None = Field(default=None, max_length=63)
    receipt: str | None = None
    local_ref: str | None = None
    note: str | None = None
    issued_at: datetime
    updated_at: datetime


def receipt_number(agency_id: str, referral_id: str) -> str:
    """A receipt the recipient can quote: stable for the referral, so redelivery keeps it."""
    return f"{agency_id.upper()}-RCPT-{referral_id[-10:]}"


async def in_ledger(uow: UnitOfWork, referral_id: str) -> bool:
    return await find_row(uow.session, ReferralRecord, referral_id) is not None


def agency_of(record: ReferralRecord, party: ReferralParty) -> str | None:
    return {
        ReferralParty.SENDER: record.sender,
        ReferralParty.RECIPIENT: record.recipient,
        ReferralParty.SUPERVISOR: record.supervisor,
    }[party]


def party_of(record: ReferralRecord, agency_id: str) -> ReferralParty | None:
    for party in ReferralParty:
        if agency_of(record, party) == agency_id:
            return party
    return None


def step_record(
    record: ReferralRecord, event_type: str, by: ReferralParty, now: datetime, payload: Payload
) -> None:
    """Apply one step to the ledger row, or refuse it with the state machine's reason."""
    try:
        state = step_referral(ReferralState(record.state), event_type, by)
    except IllegalReferralStep as exc:
        raise StepRefused(f"referral {record.referral_id}: {exc}") from exc
    record.state = state.value
    record.updated_at = now
    for attribute in ("receipt", "local_ref"):
        if hasattr(payload, attribute):
            setattr(record, attribute, getattr(payload, attribute))
    for attribute in ("reason", "outcome", "explanation", "finding"):
        if hasattr(payload, attribute):
            record.note = getattr(payload, attribute)
