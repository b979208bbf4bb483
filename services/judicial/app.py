"""The judicial adapter: public security, procuratorate and courts.

Receives transferred cases (acknowledged automatically on arrival) and reports judgments
and judicial confirmations.
"""

from datetime import datetime
from typing import ClassVar

from contracts.identifiers import Money
from contracts.judicial import JudgmentRendered
from contracts.subjects import COORDINATOR
from services.runtime.adapter import UnitOfWork
from services.runtime.agency_adapter import AgencyAdapter

__all__ = ["JudicialService"]


class JudicialService(AgencyAdapter):
    """One police bureau, procuratorate or court on the bus."""

    service_name: ClassVar[str] = "judicial"

    async def render_judgment(
        self,
        uow: UnitOfWork,
        case_id: str,
        *,
        court_ref: str,
        verdict: str,
        sentence: str = "",
        fine: Money | None = None,
        rendered_at: datetime | None = None,
    ) -> JudgmentRendered:
        judgment = JudgmentRendered(
            case_id=case_id,
            court_ref=court_ref,
            verdict=verdict,
            sentence=sentence,
            fine=fine,
            rendered_at=rendered_at or uow.now,
        )
        uow.emit(judgment, to=COORDINATOR, case_id=case_id)
        return judgment
