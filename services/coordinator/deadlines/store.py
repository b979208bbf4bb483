"""The coordinator's deadline table: one row per referral and stage, in the database.

Deadlines live here, not in timers, so a restarted coordinator finds them again. A row is
``pending`` until the referral leaves the stage (``met``) or the watcher finds it due
(``overdue``); ``stopped`` while its clock stands still on a lawful ground (no due time);
``not_computable`` when its days fall outside the business calendar — recorded with the
reason and retried by the watcher, so adding next year's notice and restarting heals it.
Each row records the rule version(s) that set it.

The move to ``overdue`` is a conditional update in the same transaction as the outbox rows
of the notices: whoever wins it — one watcher, one replica, one run after a crash — is the
only one that ever sends them.

Every row carries a ``version`` the ORM checks on each update it writes (SQLAlchemy's
``version_id_col``), and the conditional updates written as statements bump it too. A
transaction that read a row before someone else changed it (the coordinator's batch reads
its referrals' rows when it starts; the watch may declare one overdue in between) fails with
:class:`~sqlalchemy.orm.exc.StaleDataError` instead of writing ``met`` over ``overdue``;
:meth:`~services.runtime.storage.Database.write` runs it again on the row as it now is.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from services.coordinator.deadlines.rules import (
    DeadlineClock,
    StageDeadline,
    excluded_between,
    is_met,
)
from services.coordinator.store import CoordinatorTable
from services.runtime.law import (
    BusinessCalendar,
    CalendarNotCovered,
    Period,
    PeriodUnit,
)
from services.runtime.storage import UtcDateTime, as_utc

__all__ = [
    "HOLDER_NOTICE",
    "OPEN_STATUSES",
    "DeadlineRecord",
    "DeadlineStatus",
    "ReferralClocks",
    "bump_version",
    "claim_overdue",
    "clock_of",
    "due_deadlines",
    "not_computable_deadlines",
    "recompute",
    "referral_deadlines",
    "settle_case_deadlines",
]


HOLDER_NOTICE = "holder_notice"
"""The ``kind`` of a rights holder's window after customs' notice (not a referral kind):
the table holds it too (services.coordinator.holders), the referral views skip it."""


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    MET = "met"
    OVERDUE = "overdue"
    STOPPED = "stopped"
    NOT_COMPUTABLE = "not_computable"
    ENDED = "ended"
    """The case ended (a final judgment; the canceller's own referrals on ``case.cancelled``)
    while the stage was still owed: nobody owes it any more, and nobody met it either."""


OPEN_STATUSES = frozenset(
    {
        DeadlineStatus.PENDING.value,
        DeadlineStatus.STOPPED.value,
        DeadlineStatus.NOT_COMPUTABLE.value,
    }
)
"""The recipient still owes the stage and it has not been declared overdue."""


class DeadlineRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_deadline"

    referral_id: str = Field(primary_key=True, max_length=26)
    stage: str = Field(primary_key=True, max_length=20)
    case_id: str = Field(index=True, max_length=26)
    kind: str = Field(max_length=40)
    sender: str = Field(max_length=63)
    recipient: str = Field(max_length=63)
    supervisor: str | None = Field(default=None, max_length=63)
    started_at: datetime = Field(sa_type=UtcDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    """``None`` while stopped or not computable."""
    period: str = Field(max_length=60)
    """How a person reads it: ``3 calendar days``, ``30 working days (extended)``."""
    amount: float = 0.0
    unit: str = Field(default="", max_length=20)
    """The period allowed so far (the rule's, or the extended total), as computed from."""
    excluded: float = 0.0
    """Units the clock stood still (clock stops), added to the period."""
    stopped_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    stop_ground: str | None = Field(default=None, max_length=20)
    resumed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """Set with ``stopped_at`` only while the time stood still could not be counted yet
    (the resumption's days are outside the calendar): counted when it can be."""
    rule_version: str = Field(default="", max_length=255)
    """The rule version(s) applied: ``name@effective_from``, extensions joined with `` + ``."""
    problem: str | None = None
    """Why it is not computable (the calendar's refusal), for the operator."""
    status: str = Field(default=DeadlineStatus.PENDING.value, max_length=16, index=True)
    settled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """When it was met, or when it went overdue."""
    met_late_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """For an overdue stage: when the recipient finally did what it owed."""
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """Counts the row's writes: an update from a stale read matches no row (module doc)."""

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def bump_version() -> dict[str, Any]:
    """The ``values`` an update statement on the table adds, so that a transaction that read
    the row before it cannot write over it (the ORM bumps the version of what it writes)."""
    return {"version": col(DeadlineRecord.version) + 1}


class ReferralClocks:
    """The deadline rows of one transaction's referrals, read at once and kept in step.

    A batch names its referrals up front (:meth:`preload`: one statement), so the step of
    each referral settles and opens its stages without a read of its own (it paid two or
    three: a quarter of all the coordinator's statements on the lifecycle mix).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._rows: dict[str, dict[str, DeadlineRecord]] = {}

    async def preload(self, referral_ids: set[str]) -> None:
        """Read these referrals' deadline rows in one statement."""
        wanted = referral_ids - self._rows.keys()
        if not wanted:
            return
        self._rows.update({referral_id: {} for referral_id in wanted})
        rows = await self._session.exec(
            select(DeadlineRecord).where(col(DeadlineRecord.referral_id).in_(wanted))
        )
        for row in rows:
            self._rows[row.referral_id][row.stage] = row

    async def of(self, referral_id: str) -> dict[str, DeadlineRecord]:
        """The referral's rows by stage, as this transaction holds them."""
        await self.preload({referral_id})
        return self._rows[referral_id]

    async def settle(self, referral_id: str, state: ReferralState, now: datetime) -> None:
        """Mark met every open stage the referral's new ``state`` no longer owes (late or
        not)."""
        for row in (await self.of(referral_id)).values():
            if not is_met(ReferralStage(row.stage), state):
                continue
            if row.status in OPEN_STATUSES:
                row.status = DeadlineStatus.MET.value
                row.settled_at = now
                self._session.add(row)
            elif row.status == DeadlineStatus.OVERDUE.value and row.met_late_at is None:
                row.met_late_at = now
                self._session.add(row)

    async def open(
        self,
        *,
        referral_id: str,
        case_id: str,
        kind: ReferralKind,
        sender: str,
        recipient: str,
        supervisor: str | None,
        started_at: datetime,
        deadlines: list[StageDeadline],
    ) -> None:
        """Start the clocks a step opened (a stage is opened at most once per referral)."""
        rows = await self.of(referral_id)
        for deadline in deadlines:
            if deadline.stage.value in rows:
                continue
            row = DeadlineRecord(
                referral_id=referral_id,
                stage=deadline.stage.value,
                case_id=case_id,
                kind=kind.value,
                sender=sender,
                recipient=recipient,
                supervisor=supervisor,
                started_at=started_at,
                due_at=deadline.due_at,
                period=deadline.period.describe(),
                amount=deadline.period.amount,
                unit=deadline.period.unit.value,
                rule_version=deadline.rule_version,
                problem=deadline.problem,
                status=(
                    DeadlineStatus.PENDING.value
                    if deadline.problem is None
                    else DeadlineStatus.NOT_COMPUTABLE.value
                ),
            )
            self._session.add(row)
            rows[row.stage] = row


def clock_of(row: DeadlineRecord) -> DeadlineClock:
    """The row's clock: its start, the period allowed so far and the time excluded."""
    return DeadlineClock(
        started_at=as_utc(row.started_at),
        period=Period.model_validate({"amount": row.amount, "unit": row.unit}),
        excluded=row.excluded,
    )


def recompute(row: DeadlineRecord, calendar: BusinessCalendar) -> None:
    """Set the row's due time from its clock (first counting a resumed stop's time, if
    that is still owed); a calendar refusal makes it not computable."""
    try:
        if row.stopped_at is not None and row.resumed_at is not None:
            unit = PeriodUnit(row.unit)
            row.excluded += excluded_between(
                as_utc(row.stopped_at), as_utc(row.resumed_at), unit, calendar
            )
            row.stopped_at = row.resumed_at = row.stop_ground = None
        row.due_at = clock_of(row).due(calendar)
    except CalendarNotCovered as exc:
        row.due_at, row.problem, row.status = None, str(exc), DeadlineStatus.NOT_COMPUTABLE.value
        return
    row.problem, row.status = None, DeadlineStatus.PENDING.value


async def settle_case_deadlines(
    session: AsyncSession, case_id: str, now: datetime, *, sender: str | None = None
) -> int:
    """Stop watching every open deadline of the case (only those ``sender`` set running,
    when given): the case ended, so nobody owes those stages any more. They are marked
    ``ended`` (not ``met``: a report on who met their periods must not count them); one
    already overdue stays overdue. Returns how many."""
    query = select(DeadlineRecord).where(
        DeadlineRecord.case_id == case_id, col(DeadlineRecord.status).in_(OPEN_STATUSES)
    )
    if sender is not None:
        query = query.where(DeadlineRecord.sender == sender)
    rows = list((await session.exec(query)).all())
    for row in rows:
        row.status = DeadlineStatus.ENDED.value
        row.settled_at = now
        session.add(row)
    return len(rows)


async def due_deadlines(session: AsyncSession, now: datetime) -> list[DeadlineRecord]:
    """Pending deadlines that have run out, earliest first."""
    rows = await session.exec(
        select(DeadlineRecord)
        .where(
            DeadlineRecord.status == DeadlineStatus.PENDING.value,
            col(DeadlineRecord.due_at) <= now,
        )
        .order_by(col(DeadlineRecord.due_at))
    )
    return list(rows.all())


async def not_computable_deadlines(session: AsyncSession) -> list[DeadlineRecord]:
    """Deadlines the calendar refused: retried each round (a new year's notice heals them)."""
    rows = await session.exec(
        select(DeadlineRecord).where(DeadlineRecord.status == DeadlineStatus.NOT_COMPUTABLE.value)
    )
    return list(rows.all())


async def claim_overdue(session: AsyncSession, referral_id: str, stage: str, now: datetime) -> bool:
    """Move one deadline from pending to overdue; ``False`` when someone else already did."""
    result = await session.exec(
        update(DeadlineRecord)
        .where(
            col(DeadlineRecord.referral_id) == referral_id,
            col(DeadlineRecord.stage) == stage,
            col(DeadlineRecord.status) == DeadlineStatus.PENDING.value,
            col(DeadlineRecord.due_at) <= now,
        )
        .values(status=DeadlineStatus.OVERDUE.value, settled_at=now, **bump_version())
    )
    return bool(result.rowcount == 1)


async def referral_deadlines(
    session: AsyncSession, *, status: DeadlineStatus | None = None
) -> list[DeadlineRecord]:
    """Every deadline (optionally of one status), earliest due first."""
    query = select(DeadlineRecord).order_by(col(DeadlineRecord.due_at))
    if status is not None:
        query = query.where(DeadlineRecord.status == status.value)
    return list((await session.exec(query)).all())
