"""Extensions and clock stops on a stored deadline, checked against the rule in force.

The state machine has already checked that the recipient took the step in a state that owes
something; here the deadline row of the named stage must be open, and the rule in force on
the date its clock started must allow the step. Whatever it does not allow is refused with
the reason (the event is then dead-lettered as an illegal step).
"""

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.referral_clocks import ReferralClockResumed, ReferralClockStopped, ReferralExtended
from contracts.referrals import ReferralKind
from services.coordinator.deadlines.rules import (
    DeadlineStepRefused,
    clock_stop_rule,
    extension_rule,
    next_limit,
)
from services.coordinator.deadlines.store import (
    OPEN_STATUSES,
    DeadlineRecord,
    DeadlineStatus,
    clock_of,
    recompute,
)
from services.runtime.law import BusinessCalendar, RuleBook

__all__ = ["ClockStep", "apply_clock_step"]

ClockStep = ReferralExtended | ReferralClockStopped | ReferralClockResumed


async def apply_clock_step(
    session: AsyncSession,
    step: ClockStep,
    *,
    kind: ReferralKind,
    at: datetime,
    rules: RuleBook,
    calendar: BusinessCalendar,
) -> DeadlineRecord:
    """Move the deadline of ``step.stage``; :class:`DeadlineStepRefused` when not allowed."""
    row = await session.get(DeadlineRecord, (step.referral_id, step.stage.value))
    if row is None or row.status not in OPEN_STATUSES:
        state = "none" if row is None else row.status
        raise DeadlineStepRefused(
            f"referral {step.referral_id} has no open {step.stage.value} deadline ({state})"
        )
    clock = clock_of(row)
    on = calendar.local_date(clock.started_at)
    what = f"the {step.stage.value} deadline of a {kind.value} referral"
    match step:
        case ReferralExtended():
            found = extension_rule(rules, kind, step.stage, on)
            limit = next_limit(clock.period, found[1] if found else None, what)
            assert found is not None  # next_limit refused otherwise
            row.amount = limit.amount
            row.period = f"{limit.describe()} (extended)"
            _record_rule(row, found[0].version)
            if row.status != DeadlineStatus.STOPPED.value:
                recompute(row, calendar)
        case ReferralClockStopped():
            found_stop = clock_stop_rule(rules, kind, step.stage, on)
            if found_stop is None:
                raise DeadlineStepRefused(f"no rule stops the clock of {what}")
            if step.ground not in found_stop[1].grounds:
                allowed = ", ".join(ground.value for ground in found_stop[1].grounds)
                raise DeadlineStepRefused(
                    f"{step.ground.value} does not stop the clock of {what} (grounds: {allowed})"
                )
            if row.status == DeadlineStatus.STOPPED.value:
                raise DeadlineStepRefused(f"the clock of {what} is already stopped")
            if row.resumed_at is not None:
                raise DeadlineStepRefused(
                    f"the last stop of {what} is not counted yet (outside the calendar)"
                )
            row.stopped_at, row.stop_ground = at, step.ground.value
            row.status, row.due_at = DeadlineStatus.STOPPED.value, None
            _record_rule(row, found_stop[0].version)
        case ReferralClockResumed():
            if row.status != DeadlineStatus.STOPPED.value or row.stopped_at is None:
                raise DeadlineStepRefused(f"the clock of {what} is not stopped")
            row.resumed_at = at
            recompute(row, calendar)  # counts the stop, or keeps it owed: not computable
    session.add(row)
    return row


def _record_rule(row: DeadlineRecord, version: str) -> None:
    if version not in row.rule_version.split(" + "):
        row.rule_version = f"{row.rule_version} + {version}" if row.rule_version else version
