"""The coordinator's rights-holder desk: customs' notice in, the holder's answer out.

* ``holder.notified`` from customs (a party to the case) is forwarded to the one desk that
  represents the holder (``represents`` in the registry), and the holder's window opens as
  a row of the deadline table (stage ``holder_window``, kind ``holder_notice``), set by the
  ``customs.application_and_bond`` rule (Decree 395 art. 16: 3 working days) on the
  business calendar — the same rule customs' own clock applies.
* ``holder.applied`` / ``holder.declined`` from that desk (the sender table and
  :func:`contracts.senders.in_whose_name` already checked it may speak for the holder)
  settle the window and are forwarded to customs; a late or second answer is refused.
* When the window runs out, the deadline watcher sends ``holder.lapsed`` to customs and the
  desk (:func:`lapse_notices`): customs releases the goods.

The desk is not made a party of the case: these events are kept off the case file, so the
desk never sees the case, its parties or their personal data — only its notices.
"""

from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.agencies import Registry
from contracts.envelope import Event, RejectReason
from contracts.holders import HolderApplied, HolderDeclined, HolderLapsed, HolderNotified
from contracts.subjects import COORDINATOR
from services.coordinator.cases.domain import may_see
from services.coordinator.cases.store import CaseFiles
from services.coordinator.deadlines.store import HOLDER_NOTICE, DeadlineRecord, DeadlineStatus
from services.runtime.bus import PermanentError, StepRefused
from services.runtime.law import (
    BusinessCalendar,
    CalendarNotCovered,
    Period,
    RuleBook,
    due_at,
)
from services.runtime.ops import AgencyMetrics, Logger
from services.sdk import UnitOfWork

__all__ = [
    "HOLDER_NOTICE",
    "HOLDER_WINDOW",
    "WINDOW_RULE",
    "HolderNotices",
    "is_holder_deadline",
    "lapse_notices",
]

HOLDER_WINDOW = "holder_window"
"""The deadline table's ``stage`` of a holder's window."""
WINDOW_RULE = "customs.application_and_bond"
"""The policy rule that sets the window (Decree 395 art. 16), shared with customs' clock."""


def is_holder_deadline(row: DeadlineRecord) -> bool:
    """Whether a deadline row is a holder's window (the referral views skip those)."""
    return row.kind == HOLDER_NOTICE


def lapse_notices(row: DeadlineRecord) -> list[tuple[str, HolderLapsed]]:
    """The ``holder.lapsed`` notices of a window that ran out: to customs and the desk."""
    assert row.due_at is not None  # only pending rows with a due time run out
    notice = HolderLapsed(notice_id=row.referral_id, case_id=row.case_id, due_at=row.due_at)
    recipients = [row.sender] + ([row.recipient] if row.recipient != COORDINATOR else [])
    return [(agency, notice) for agency in dict.fromkeys(recipients)]


class HolderNotices:
    """Routes notices and answers between customs and the rights-holder desks."""

    def __init__(
        self,
        registry: Registry,
        rules: RuleBook,
        calendar: BusinessCalendar,
        log: Logger,
        metrics: AgencyMetrics,
    ) -> None:
        self.metrics = metrics
        self.registry = registry
        self.rules = rules
        self.calendar = calendar
        self.log = log

    @staticmethod
    def takes(event_type: str) -> bool:
        """Whether this desk handles the type (kept off the case file)."""
        return event_type.startswith("holder.")

    async def take(self, uow: UnitOfWork, event: Event, cases: CaseFiles) -> None:
        payload = event.payload
        if event.sender == COORDINATOR:
            return  # our own forwards and lapse notices, read back from the stream
        if event.recipient != COORDINATOR:
            raise StepRefused(
                f"{event.event_type} from {event.sender} to {event.recipient}: a notice and "
                "its answer go through the coordinator, which routes them"
            )
        if isinstance(payload, HolderNotified):
            await self._notified(uow, event, payload, cases)
        elif isinstance(payload, HolderApplied | HolderDeclined):
            await self._answered(uow, event, payload)

    async def _notified(
        self, uow: UnitOfWork, event: Event, notice: HolderNotified, cases: CaseFiles
    ) -> None:
        case = await cases.get(notice.case_id)
        if case is None or not may_see(case, event.sender):
            raise PermanentError(
                RejectReason.NOT_A_PARTY,
                f"{event.sender} is not party to case {notice.case_id}, so it notifies no "
                "holder about it",
            )
        if await uow.session.get(DeadlineRecord, (notice.notice_id, HOLDER_WINDOW)) is not None:
            raise StepRefused(f"notice {notice.notice_id} was sent before")
        desk = self.registry.desk_for(notice.holder)
        recipient = desk.id if desk is not None else COORDINATOR
        uow.session.add(self._window(notice, customs=event.sender, desk=recipient))
        uow.after_commit(lambda: self.metrics.holder_notice("notified"))
        if desk is None:
            self.log.warning(
                "no rights-holder desk represents the holder: customs' own clock decides",
                notice_id=notice.notice_id,
            )
            return
        uow.emit(notice, to=desk.id)

    def _window(self, notice: HolderNotified, *, customs: str, desk: str) -> DeadlineRecord:
        start = notice.notified_at
        rule = self.rules.in_force(WINDOW_RULE, self.calendar.local_date(start))
        period = rule.values_as(Period)
        row = DeadlineRecord(
            referral_id=notice.notice_id,
            stage=HOLDER_WINDOW,
            case_id=notice.case_id,
            kind=HOLDER_NOTICE,
            sender=customs,
            recipient=desk,
            started_at=start,
            period=period.describe(),
            amount=period.amount,
            unit=period.unit.value,
            rule_version=rule.version,
        )
        try:
            row.due_at = due_at(start, period, self.calendar)
        except CalendarNotCovered as exc:
            row.status, row.problem = DeadlineStatus.NOT_COMPUTABLE.value, str(exc)
        return row

    async def _answered(
        self, uow: UnitOfWork, event: Event, answer: HolderApplied | HolderDeclined
    ) -> None:
        row = await _window_of(uow.session, answer.notice_id)
        if row is None or row.recipient != event.sender:
            raise PermanentError(
                RejectReason.NOT_A_PARTY,
                f"{event.sender} was sent no notice {answer.notice_id}",
            )
        if row.status == DeadlineStatus.OVERDUE.value:
            raise StepRefused(
                f"the holder's window for notice {answer.notice_id} closed at "
                f"{row.due_at:%Y-%m-%d %H:%M} UTC ({row.rule_version}); the goods are released"
            )
        if row.status == DeadlineStatus.MET.value:
            raise StepRefused(f"notice {answer.notice_id} was answered before")
        row.status, row.settled_at = DeadlineStatus.MET.value, uow.now
        uow.session.add(row)
        uow.emit(answer, to=row.sender, case_id=row.case_id)
        outcome: Literal["applied", "declined"] = (
            "applied" if isinstance(answer, HolderApplied) else "declined"
        )
        uow.after_commit(lambda: self.metrics.holder_notice(outcome))


async def _window_of(session: AsyncSession, notice_id: str) -> DeadlineRecord | None:
    return await session.get(DeadlineRecord, (notice_id, HOLDER_WINDOW))
