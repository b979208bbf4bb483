"""The customs adapter: detentions at the border, and referral of the case onward."""

from typing import ClassVar

from sqlalchemy import MetaData

from contracts.customs import GoodsConfiscated, GoodsReleased
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from services.customs.confirmation import ConfirmationPolicy, confirmation_due, release_reason
from services.customs.confirmation_store import ConfirmationWindowRecord, lapsed_windows
from services.customs.confirmation_watch import PeriodicTask
from services.customs.domain import Detention, case_title, detained_goods
from services.customs.store import CustomsTable, DetentionRecord
from services.runtime.adapter import ServiceContext, UnitOfWork
from services.runtime.agency_adapter import AgencyAdapter
from services.runtime.business_calendar import CalendarPolicy
from services.runtime.errors import StepRefused
from services.runtime.policy import policy_section

__all__ = ["CustomsService"]


class CustomsService(AgencyAdapter):
    """One customs office (e.g. ``customs-shanghai``) on the bus."""

    service_name: ClassVar[str] = "customs"
    tables: ClassVar[tuple[MetaData, ...]] = (CustomsTable.metadata,)

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        self.confirmation = policy_section(
            context.policy, "customs_confirmation", ConfirmationPolicy
        )
        self.calendar = policy_section(context.policy, "calendar", CalendarPolicy).calendar()
        self.confirmation_watch = PeriodicTask(
            self.release_lapsed,
            self.log,
            interval_s=self.confirmation.watch_seconds,
            name="confirmation-watch",
        )

    async def on_started(self) -> None:
        self.confirmation_watch.start()

    async def stop(self) -> None:
        await self.confirmation_watch.stop()
        await super().stop()

    async def detain_goods(self, uow: UnitOfWork, detention: Detention) -> DetentionRecord:
        """Hold suspected goods: opens a new case and records the detention on it."""
        case_id, detention_id = new_ulid(), new_ulid()
        await self.open_case(
            uow,
            case_id=case_id,
            local_ref=detention.local_ref,
            title=case_title(detention),
            ip_rights=(detention.ip_right,),
            parties=detention.parties,
            goods=(detention.goods,),
        )
        record = DetentionRecord(
            detention_id=detention_id,
            case_id=case_id,
            port=detention.port,
            hs_code=detention.hs_code,
            quantity=detention.quantity,
            detained_at=uow.now,
        )
        uow.session.add(record)
        uow.session.add(
            ConfirmationWindowRecord(
                detention_id=detention_id,
                case_id=case_id,
                perishable=detention.perishable,
                due_at=confirmation_due(
                    uow.now,
                    perishable=detention.perishable,
                    policy=self.confirmation,
                    calendar=self.calendar,
                ),
            )
        )
        uow.emit(
            detained_goods(detention, detention_id=detention_id, case_id=case_id),
            to=COORDINATOR,
            case_id=case_id,
        )
        return record

    async def confiscate_goods(
        self, uow: UnitOfWork, detention_id: str, *, decision_ref: str
    ) -> DetentionRecord:
        record = await self._held(uow, detention_id)
        record.status = "confiscated"
        uow.session.add(record)
        uow.emit(
            GoodsConfiscated(
                detention_id=detention_id, case_id=record.case_id, decision_ref=decision_ref
            ),
            to=COORDINATOR,
            case_id=record.case_id,
        )
        return record

    async def release_goods(
        self, uow: UnitOfWork, detention_id: str, *, reason: str
    ) -> DetentionRecord:
        record = await self._held(uow, detention_id)
        record.status = "released"
        uow.session.add(record)
        uow.emit(
            GoodsReleased(detention_id=detention_id, case_id=record.case_id, reason=reason),
            to=COORDINATOR,
            case_id=record.case_id,
        )
        return record

    async def record_confirmation(
        self, uow: UnitOfWork, detention_id: str
    ) -> ConfirmationWindowRecord:
        """The rights holder confirmed the detention (applied, bond posted): no release."""
        await self._held(uow, detention_id)
        window = await uow.session.get(ConfirmationWindowRecord, detention_id)
        if window is None:
            raise StepRefused(f"detention {detention_id} has no confirmation window")
        if window.lapsed_at is not None:
            raise StepRefused(f"the confirmation window of detention {detention_id} has lapsed")
        window.confirmed_at = uow.now
        uow.session.add(window)
        return window

    async def release_lapsed(self) -> int:
        """Release every detention whose confirmation window ran out; return how many."""
        async with self.database.transaction() as session:
            lapsed = await lapsed_windows(session, self.clock.now())
        released = 0
        for window in lapsed:
            async with self.unit_of_work() as uow:
                current = await uow.session.get(ConfirmationWindowRecord, window.detention_id)
                if current is None or current.lapsed_at or current.confirmed_at:
                    continue
                current.lapsed_at = uow.now
                uow.session.add(current)
                record = await uow.session.get(DetentionRecord, window.detention_id)
                if record is not None and record.status == "detained":
                    reason = release_reason(perishable=window.perishable, policy=self.confirmation)
                    await self.release_goods(uow, window.detention_id, reason=reason)
                    released += 1
        return released

    async def _held(self, uow: UnitOfWork, detention_id: str) -> DetentionRecord:
        record = await uow.session.get(DetentionRecord, detention_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} holds no detention {detention_id}")
        if record.status != "detained":
            raise StepRefused(f"detention {detention_id} is already {record.status}")
        return record
