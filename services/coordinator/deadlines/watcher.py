"""The deadline watcher: a background task that turns run-out deadlines into notices.

It reads due rows from the database (so a restart loses nothing), and for each one claims
it and writes the ``referral.overdue`` notices to the outbox in one transaction — sender,
recipient and the region's procuratorate, each exactly once per referral and stage.

Deadlines the calendar could not compute are retried each round with the calendar the
coordinator started with: once an operator adds the next year's notice and restarts, they
become pending with their due time.

After a (re)start it first waits until the coordinator has read the backlog of the stream:
a receipt sent in time while the coordinator was down must not be reported overdue.
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.referrals import ReferralOverdue, ReferralStage
from services.coordinator.deadlines.store import (
    DeadlineRecord,
    DeadlineStatus,
    claim_overdue,
    due_deadlines,
    not_computable_deadlines,
    recompute,
)
from services.coordinator.holders.notices import is_holder_deadline, lapse_notices
from services.runtime.bus import Clock
from services.runtime.law import BusinessCalendar
from services.runtime.ops import AgencyMetrics, Logger, PeriodicTask
from services.runtime.storage import Database
from services.sdk import UnitOfWork

__all__ = ["DeadlineWatch", "overdue_recipients"]

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


def overdue_recipients(deadline: DeadlineRecord) -> list[str]:
    """Who hears of a missed deadline: sender, recipient, and the supervisor if any."""
    parties = [deadline.sender, deadline.recipient, deadline.supervisor]
    return list(dict.fromkeys(p for p in parties if p))


class DeadlineWatch:
    """Checks every ``interval_s`` seconds of wall time, against business time ``clock``;
    a failed check is logged and tried again next round (nothing was claimed)."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        unit_of_work: UnitOfWorkFactory,
        log: Logger,
        *,
        calendar: BusinessCalendar | None = None,
        interval_s: float,
        caught_up: Callable[[], Awaitable[bool]] | None = None,
        catch_up_limit_s: float = 60.0,
        metrics: AgencyMetrics | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._unit_of_work = unit_of_work
        self._log = log
        self._metrics = metrics
        self._calendar = calendar
        self._caught_up = caught_up
        self._catch_up_limit_s = catch_up_limit_s
        self.loop = PeriodicTask(
            self.check_once,
            log,
            interval_s=interval_s,
            name="deadline-watch",
            metrics=metrics,
            before_first=self._catch_up,
        )

    def start(self) -> None:
        self.loop.start()

    def wake(self) -> None:
        """Check now (tests and the demo move business time forward, then wake it)."""
        self.loop.wake()

    async def stop(self) -> None:
        await self.loop.stop()

    async def _catch_up(self) -> None:
        if self._caught_up is None:
            return
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._catch_up_limit_s
        while loop.time() < give_up:
            try:
                if await self._caught_up():
                    return
            except Exception:
                self._log.exception("could not tell whether the backlog is read")
            self.loop.beat()  # waiting on purpose is not a dead loop
            await asyncio.sleep(0.1)
        self._log.warning("deadline watch starts before the backlog is read")

    async def check_once(self) -> int:
        """Send the notices of every deadline due now; return how many deadlines went overdue."""
        now = self._clock.now()
        await self.recompute_not_computable()
        async with self._database.transaction() as session:
            due = await due_deadlines(session, now)
        sent = 0
        for deadline in due:
            async with self._unit_of_work() as uow:
                if not await claim_overdue(uow.session, deadline.referral_id, deadline.stage, now):
                    continue
                assert deadline.due_at is not None  # only pending rows with a due time are due
                if is_holder_deadline(deadline):  # a holder's window: customs releases
                    for party, lapsed in lapse_notices(deadline):
                        uow.emit(lapsed, to=party, case_id=deadline.case_id)
                    if self._metrics is not None:
                        uow.after_commit(partial(self._metrics.holder_notice, "lapsed"))
                    sent += 1
                    continue
                notice = ReferralOverdue(
                    referral_id=deadline.referral_id,
                    case_id=deadline.case_id,
                    stage=ReferralStage(deadline.stage),
                    due_at=deadline.due_at,
                )
                for party in overdue_recipients(deadline):
                    uow.emit(notice, to=party, case_id=deadline.case_id)
            sent += 1
            self._log.info(
                "referral overdue",
                referral_id=deadline.referral_id,
                stage=deadline.stage,
                due_at=deadline.due_at.isoformat() if deadline.due_at else None,
            )
        return sent

    async def recompute_not_computable(self) -> int:
        """Retry the deadlines the calendar refused; return how many now have a due time.

        A row the coordinator changed since it was read here (its stage met meanwhile) is
        read again (:meth:`Database.write`), never written back over."""
        if self._calendar is None:
            return 0
        return await self._database.write(partial(self._recompute, calendar=self._calendar))

    async def _recompute(self, session: AsyncSession, *, calendar: BusinessCalendar) -> int:
        healed = 0
        for row in await not_computable_deadlines(session):
            recompute(row, calendar)
            session.add(row)
            if row.status == DeadlineStatus.PENDING.value:
                healed += 1
                self._log.info(
                    "deadline computable again",
                    referral_id=row.referral_id,
                    stage=row.stage,
                    due_at=row.due_at.isoformat() if row.due_at else None,
                )
        return healed
