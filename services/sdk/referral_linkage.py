"""Reconsideration and supervision: the desk's commands, who is addressed, the window.

A step goes to the party that must act on it; the supervisor is the procuratorate of the
recipient's region. After a decline the sender may ask for reconsideration within a window
(rule ``referral_window.reconsideration_request``, Decree 310 art. 9: 3 days, the version in
force on the day of the decline): the sender's desk refuses a late request at once, and the
recipient's desk refuses a late arrival. A window the calendar cannot compute (its last day
falls past the covered years) is not enforced: a lawful request is never refused on a guess.
"""

from datetime import datetime
from types import MappingProxyType

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
from contracts.referral_clocks import (
    ClockStopGround,
    ReferralClockResumed,
    ReferralClockStopped,
    ReferralExtended,
)
from contracts.referrals import ReferralKind, ReferralParty, ReferralStage, ReferralState
from services.runtime.bus import StepRefused
from services.runtime.law import (
    BusinessCalendar,
    CalendarNotCovered,
    Period,
    RuleBook,
    RuleNotInForce,
    due_at,
    policy_calendar,
)
from services.sdk.referral_ledger import ReferralRecord, agency_of, step_record
from services.sdk.rows import find_row
from services.sdk.service import AgencyService, ServiceContext, UnitOfWork

__all__ = [
    "ADDRESSEE",
    "RECONSIDERATION_WINDOW",
    "SUPERVISED_KINDS",
    "ReferralSteps",
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


RECONSIDERATION_WINDOW = "referral_window.reconsideration_request"


def check_reconsideration_window(
    declined_at: datetime, asked_at: datetime, rules: RuleBook, calendar: BusinessCalendar
) -> None:
    """Refuse a request for reconsideration made after the window closed."""
    try:
        rule = rules.in_force(RECONSIDERATION_WINDOW, calendar.local_date(declined_at))
    except RuleNotInForce as exc:
        raise StepRefused(f"reconsideration window: {exc}") from exc
    window = rule.values_as(Period)
    try:
        closes = due_at(declined_at, window, calendar)
    except CalendarNotCovered:
        return
    if asked_at > closes:
        raise StepRefused(
            f"reconsideration must be asked within {window.describe()} of the decline "
            f"(window closed {closes:%Y-%m-%d %H:%M} UTC; {rule.version})"
        )


class ReferralSteps(AgencyService):
    """An agency service that steps its ledger of referrals: the referral a command names,
    one step sent to the party that must act on it, and the officers' commands of
    reconsideration and supervision. :class:`~services.sdk.referral_desk.ReferralDesk`
    adds issuing, the common answers and the handlers."""

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        self.rules = context.rules
        self.business_calendar = policy_calendar(context.policy)

    async def referral(self, uow: UnitOfWork, referral_id: str) -> ReferralRecord:
        record = await find_row(uow.session, ReferralRecord, referral_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} has no referral {referral_id}")
        return record

    async def _answer(self, uow: UnitOfWork, referral_id: str, payload: Payload) -> ReferralRecord:
        record = await self.referral(uow, referral_id)
        role = ReferralParty(record.role)
        step_record(record, payload.event_type, role, self.clock.now(), payload)
        addressee = _ADDRESSEE_OF_STEP.get(payload.event_type, ADDRESSEE[role])
        to = agency_of(record, addressee)
        if to is None:
            raise StepRefused(f"no procuratorate supervises referral {referral_id}")
        uow.session.add(record)
        uow.emit(payload, to=to, case_id=record.case_id)
        return record

    async def request_reconsideration(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        """Sender: ask the recipient to reconsider its decline (within the window)."""
        record = await self.referral(uow, referral_id)
        if record.state == ReferralState.DECLINED.value:
            check_reconsideration_window(
                record.updated_at, uow.now, self.rules, self.business_calendar
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

    async def extend_deadline(
        self,
        uow: UnitOfWork,
        referral_id: str,
        *,
        stage: ReferralStage,
        reason: str,
        approved_by: str | None = None,
    ) -> ReferralRecord:
        """Recipient: extend the deadline of a stage it owes to the rule's next limit (the
        coordinator refuses an extension the rule does not allow)."""
        return await self._answer(
            uow,
            referral_id,
            ReferralExtended(
                referral_id=referral_id, stage=stage, reason=reason, approved_by=approved_by
            ),
        )

    async def stop_clock(
        self,
        uow: UnitOfWork,
        referral_id: str,
        *,
        stage: ReferralStage,
        ground: ClockStopGround,
        reason: str,
    ) -> ReferralRecord:
        """Recipient: stop a stage's clock for time the rule does not count (an appraisal)."""
        return await self._answer(
            uow,
            referral_id,
            ReferralClockStopped(
                referral_id=referral_id, stage=stage, ground=ground, reason=reason
            ),
        )

    async def resume_clock(
        self, uow: UnitOfWork, referral_id: str, *, stage: ReferralStage, note: str = ""
    ) -> ReferralRecord:
        """Recipient: resume a stopped clock; what was left of the period runs again."""
        return await self._answer(
            uow, referral_id, ReferralClockResumed(referral_id=referral_id, stage=stage, note=note)
        )
