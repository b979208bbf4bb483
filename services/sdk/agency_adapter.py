"""The base of every agency adapter: referrals (from :class:`ReferralDesk`) plus its own cases.

An agency keeps a ledger of the cases it works on under its own ``local_ref``; opening,
moving and closing one tells the coordinator, which keeps the shared timeline.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import (
    CaseCancelled,
    CaseClosed,
    CaseOpened,
    CaseStatus,
    CaseStatusChanged,
    Goods,
    IpRight,
    Party,
)
from contracts.envelope import Event
from contracts.oversight import CaseFindings
from contracts.senders import in_whose_name
from contracts.subjects import COORDINATOR
from services.runtime.bus import StepRefused
from services.runtime.law import refuse_unpermitted
from services.runtime.storage import RuntimeTable
from services.sdk.evidence_desk import EvidenceDesk
from services.sdk.referral_desk import ReferralDesk
from services.sdk.rows import add_row, find_row
from services.sdk.service import UnitOfWork
from services.sdk.warning_desk import WarningDesk

__all__ = ["AgencyAdapter", "LocalCaseRecord"]


class LocalCaseRecord(RuntimeTable, table=True):
    """A case as this agency works it."""

    __tablename__ = "ipbus_local_case"

    case_id: str = Field(primary_key=True, max_length=26)
    local_ref: str = Field(index=True, max_length=64)
    title: str
    status: str = Field(max_length=20)
    opened_at: datetime
    updated_at: datetime


class AgencyAdapter(WarningDesk, ReferralDesk, EvidenceDesk):
    """Subclass this to connect an agency: cases, referrals and warnings come with it."""

    async def before_batch(self, session: AsyncSession, events: list[Event]) -> None:
        """Refuse (``not_permitted``) what a sender may not say at all (DESIGN §4a), e.g. a
        ``referral.overdue`` that is not the coordinator's, before the batch applies."""
        for event in events:
            refuse_unpermitted(self.registry, event)
        await super().before_batch(session, events)

    async def open_case(
        self,
        uow: UnitOfWork,
        *,
        case_id: str,
        local_ref: str,
        title: str,
        ip_rights: Sequence[IpRight] = (),
        parties: Sequence[Party] = (),
        goods: Sequence[Goods] = (),
    ) -> LocalCaseRecord:
        """Open our part of ``case_id`` (a new matter, or one referred to us)."""
        now = self.clock.now()
        if await find_row(uow.session, LocalCaseRecord, case_id) is not None:
            raise StepRefused(f"{self.agency.id} already has case {case_id} open")
        record = LocalCaseRecord(
            case_id=case_id,
            local_ref=local_ref,
            title=title,
            status=CaseStatus.OPEN.value,
            opened_at=now,
            updated_at=now,
        )
        add_row(uow.session, record)
        uow.emit(
            CaseOpened(
                local_ref=local_ref,
                title=title,
                ip_rights=list(ip_rights),
                parties=list(parties),
                goods=list(goods),
                opened_at=now,
            ),
            to=COORDINATOR,
            case_id=case_id,
        )
        return record

    async def change_case_status(
        self,
        uow: UnitOfWork,
        case_id: str,
        status: CaseStatus,
        *,
        note: str = "",
        to: str = COORDINATOR,
        findings: CaseFindings | None = None,
    ) -> LocalCaseRecord:
        """Restate our part; addressed to another agency, it makes that agency a party.

        A status that records another body's judicial act (a regulator saying "judged") is
        refused here, as every reader would dead-letter it (``in_whose_name``)."""
        record = await self.local_case(uow, case_id)
        change = CaseStatusChanged(
            local_ref=record.local_ref, status=status, note=note, findings=findings
        )
        if (problem := in_whose_name(change, self.agency)) is not None:
            raise StepRefused(problem)
        record.status = status.value
        record.updated_at = self.clock.now()
        uow.session.add(record)
        uow.emit(change, to=to, case_id=case_id)
        return record

    async def close_case(self, uow: UnitOfWork, case_id: str, *, outcome: str) -> LocalCaseRecord:
        record = await self.local_case(uow, case_id)
        if record.status == CaseStatus.CLOSED.value:
            raise StepRefused(f"case {case_id} is already closed at {self.agency.id}")
        record.status = CaseStatus.CLOSED.value
        record.updated_at = self.clock.now()
        uow.session.add(record)
        uow.emit(
            CaseClosed(local_ref=record.local_ref, outcome=outcome), to=COORDINATOR, case_id=case_id
        )
        return record

    async def cancel_case(
        self, uow: UnitOfWork, case_id: str, *, reason: str, cancelled_at: datetime | None = None
    ) -> LocalCaseRecord:
        """Withdraw a case we opened (撤销案件); the coordinator refuses it from anyone else."""
        record = await self.local_case(uow, case_id)
        if record.status == CaseStatus.CLOSED.value:
            raise StepRefused(f"case {case_id} is already closed at {self.agency.id}")
        record.status = CaseStatus.CLOSED.value
        record.updated_at = self.clock.now()
        uow.session.add(record)
        uow.emit(
            CaseCancelled(
                local_ref=record.local_ref,
                reason=reason,
                cancelled_at=cancelled_at or uow.now,
            ),
            to=COORDINATOR,
            case_id=case_id,
        )
        return record

    async def local_case(self, uow: UnitOfWork, case_id: str) -> LocalCaseRecord:
        record = await find_row(uow.session, LocalCaseRecord, case_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} has no case {case_id}")
        return record
