"""The administrative enforcement adapter (market regulation / IP offices)."""

from typing import ClassVar

from contracts.cases import CaseStatus
from contracts.identifiers import Money
from services.enforcement.domain import Penalty, PenaltyRefused, assess_penalty
from services.runtime.adapter import UnitOfWork
from services.runtime.agency_adapter import AgencyAdapter
from services.runtime.errors import StepRefused

__all__ = ["EnforcementService"]


class EnforcementService(AgencyAdapter):
    """One market-regulation office (e.g. ``amr-shanghai``) on the bus."""

    service_name: ClassVar[str] = "enforcement"

    async def impose_penalty(
        self, uow: UnitOfWork, case_id: str, *, illegal_volume: Money, fine: Money
    ) -> Penalty:
        """Decide an administrative penalty on a case this office works."""
        try:
            penalty = assess_penalty(illegal_volume, fine)
        except PenaltyRefused as exc:
            raise StepRefused(str(exc)) from exc
        await self.change_case_status(uow, case_id, CaseStatus.PENALIZED, note=penalty.note)
        return penalty
