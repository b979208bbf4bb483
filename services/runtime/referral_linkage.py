"""Reconsideration and supervision: the desk's commands, who is addressed, the window.

A step goes to the party that must act on it; the supervisor is the procuratorate of the
recipient's region. After a decline the sender may ask for reconsideration within a window
(3 calendar days by default, policy ``[referral_windows] reconsideration_request``): the
sender's desk refuses a late request at once, and the recipient's desk refuses a late arrival.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from contracts.agencies import Registry
from contracts.base import Payload
from contracts.linkage import (
    FilingNotified,
    ReconsiderationRequested,
    ReferralDeclineUpheld,
    RefusalExplained,
    SupervisionClosed,
    SupervisionOpened,
)
from contracts.referrals import ReferralKind, ReferralParty, ReferralState
from services.runtime.adapter import UnitOfWork
from services.runtime.business_calendar import (
    BusinessCalendar,
    Period,
    PeriodUnit,
    due_at,
)
from services.runtime.errors import StepRefused

if TYPE_CHECKING:
    from services.runtime.referral_desk import ReferralRecord

__all__ = [
    "ADDRESSEE",
    "SUPERVISED_KINDS",
    "LinkageCommands",
    "ReferralWindows",
    "check_reconsideration_window",
    "referral_supervisor",
]

_P = ReferralParty
ADDRESSEE: MappingProxyType[_P, _P] = MappingProxyType(
    {_P.SENDER: _P.RECIPIENT, _P.SUPERVISOR: _P.RECIPIENT, _P.RECIPIENT: _P.SENDER}
)
"""Who must act on a step, by who took it; the explanation of a refusal is the exception."""
_ADDRESSEE_OF_STEP = MappingProxyType({RefusalExplained.event_type: _P.SUPERVISOR})


SUPERVISED_KINDS = frozenset(
    {
        ReferralKind.ADMIN_TO_CRIMINAL,
        ReferralKind.CUSTOMS_TO_CRIMINAL,
        ReferralKind.CRIMINAL_TO_ADMIN,
    }
)
"""The kinds a procuratorate supervises, so the only ones it is copied on and party to.

Transfers into criminal proceedings, by a regulator or by customs (both administrative law
enforcement bodies): Decree 310 (rev. 2020) art. 14 puts them under the procuratorate's
supervision, and the procuratorate supervises the police's decision to file (Criminal
Procedure Law art. 113). The way back, criminal to administrative (行刑反向衔接), is part of
the two-way linkage the SPP Provisions on promoting linkage (高检发释字〔2021〕4号, 2021-09-06)
put under procuratorial work. Not supervised: a lead from customs to a regulator (two
administrative bodies; no criminal filing), the judicial confirmation of a civil mediation
agreement, and overseas assistance."""


def referral_supervisor(
    registry: Registry, sender: str, recipient: str, kind: ReferralKind
) -> str | None:
    """The procuratorate competent for the recipient's region (nearest level: district, city,
    province, national), for a supervised kind, unless it is itself party to the referral."""
    if kind not in SUPERVISED_KINDS or recipient not in registry:
        return None
    procuratorate = registry.procuratorate_for(registry.get(recipient).region)
    if procuratorate is None or procuratorate.id in (recipient, sender):
        return None
    return procuratorate.id


class ReferralWindows(BaseModel):
    """Policy table ``[referral_windows]``: how long the sender may wait before it acts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reconsideration_request: Period = Field(
        default_factory=lambda: Period(amount=3, unit=PeriodUnit.CALENDAR_DAYS)
    )
    """Decree 310 (rev. 2020) art. 9: within 3 days of receiving the decision not to file."""


def check_reconsideration_window(
    declined_at: datetime, asked_at: datetime, windows: ReferralWindows, calendar: BusinessCalendar
) -> None:
    """Refuse a request for reconsideration made after the window closed."""
    if declined_at.tzinfo is None:  # read back from a database column: stored as UTC
        declined_at = declined_at.replace(tzinfo=UTC)
    closes = due_at(declined_at, windows.reconsideration_request, calendar)
    if asked_at > closes:
        raise StepRefused(
            f"reconsideration must be asked within {windows.reconsideration_request.describe()} "
            f"of the decline (window closed {closes:%Y-%m-%d %H:%M} UTC)"
        )


class LinkageCommands:
    """The officers' commands of reconsideration and supervision (mixed into the desk)."""

    referral_windows: ReferralWindows
    business_calendar: BusinessCalendar

    async def _answer(self, uow: UnitOfWork, referral_id: str, payload: Payload) -> ReferralRecord:
        raise NotImplementedError

    async def referral(self, uow: UnitOfWork, referral_id: str) -> ReferralRecord:
        raise NotImplementedError

    async def request_reconsideration(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        """Sender: ask the recipient to reconsider its decline (within the window)."""
        record = await self.referral(uow, referral_id)
        if record.state == ReferralState.DECLINED.value:
            check_reconsideration_window(
                record.updated_at, uow.now, self.referral_windows, self.business_calendar
            )
        return await self._answer(
            uow, referral_id, ReconsiderationRequested(referral_id=referral_id, reason=reason)
        )

    async def uphold_decline(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        """Recipient: keep the decline on reconsideration (to reverse it, accept instead)."""
        return await self._answer(
            uow, referral_id, ReferralDeclineUpheld(referral_id=referral_id, reason=reason)
        )

    async def open_supervision(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        """Sender or procuratorate: put a refusal to take the case on under supervision."""
        return await self._answer(
            uow, referral_id, SupervisionOpened(referral_id=referral_id, reason=reason)
        )

    async def explain_refusal(
        self, uow: UnitOfWork, referral_id: str, *, explanation: str
    ) -> ReferralRecord:
        """Recipient under supervision: explain the refusal to the procuratorate."""
        return await self._answer(
            uow, referral_id, RefusalExplained(referral_id=referral_id, explanation=explanation)
        )

    async def notify_filing(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        """Procuratorate: the reasons do not hold; the recipient must file."""
        return await self._answer(
            uow, referral_id, FilingNotified(referral_id=referral_id, reason=reason)
        )

    async def close_supervision(
        self, uow: UnitOfWork, referral_id: str, *, finding: str
    ) -> ReferralRecord:
        """Procuratorate: the reasons hold; the refusal stands."""
        return await self._answer(
            uow, referral_id, SupervisionClosed(referral_id=referral_id, finding=finding)
        )
