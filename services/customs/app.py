"""The customs adapter: detentions at the border, and referral of the case onward."""

from typing import ClassVar

from sqlalchemy import MetaData

from contracts.customs import GoodsConfiscated, GoodsReleased
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from services.customs.domain import Detention, case_title, detained_goods
from services.customs.store import CustomsTable, DetentionRecord
from services.runtime.adapter import UnitOfWork
from services.runtime.agency_adapter import AgencyAdapter
from services.runtime.errors import StepRefused

__all__ = ["CustomsService"]


class CustomsService(AgencyAdapter):
    """One customs office (e.g. ``customs-shanghai``) on the bus."""

    service_name: ClassVar[str] = "customs"
    tables: ClassVar[tuple[MetaData, ...]] = (CustomsTable.metadata,)

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

    async def _held(self, uow: UnitOfWork, detention_id: str) -> DetentionRecord:
        record = await uow.session.get(DetentionRecord, detention_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} holds no detention {detention_id}")
        if record.status != "detained":
            raise StepRefused(f"detention {detention_id} is already {record.status}")
        return record
