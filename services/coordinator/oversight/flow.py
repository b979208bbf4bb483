"""The coordinator's part in oversight: flag, track the suggestion's deadline, close it.

Fed by the coordinator's pipeline every event filed on a case, after the case file took it
(:mod:`services.coordinator.oversight.rules` decides). The reply deadline of a suggestion is a row
of the ordinary deadline table (stage ``oversight_reply``, the oversight id in place of a
referral id), so the deadline watcher notices it overdue like every other deadline: a
``referral.overdue`` to the procuratorate and the regulator, once.
"""

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.cases import CaseStatusChanged
from contracts.envelope import Event
from contracts.identifiers import new_ulid
from contracts.judicial import JudgmentFinal
from contracts.oversight import OversightAnswered, OversightFlagged, OversightSuggested
from contracts.referrals import ReferralIssued, ReferralKind, ReferralStage
from contracts.subjects import COORDINATOR
from services.coordinator.cases.domain import CRIMINAL_KINDS, CaseFile, RefusedStep
from services.coordinator.deadlines.store import DeadlineRecord, DeadlineStatus, bump_version
from services.coordinator.oversight.rules import (
    OPEN,
    OversightStatus,
    OversightView,
    flag_needed,
    penalty_findings,
    step_oversight,
)
from services.coordinator.store import CoordinatorTable
from services.runtime.bus import StepRefused
from services.runtime.law import check_threshold_rules
from services.runtime.storage import UtcDateTime
from services.sdk import ServiceContext, UnitOfWork

__all__ = ["OversightFlow", "OversightRecord"]

REPLY = ReferralStage.OVERSIGHT_REPLY


class OversightRecord(CoordinatorTable, table=True):
    __tablename__ = "coordinator_oversight"

    oversight_id: str = Field(primary_key=True, max_length=26)
    case_id: str = Field(index=True, max_length=26)
    regulator: str = Field(max_length=63)
    procuratorate: str = Field(max_length=63)
    threshold_rule: str = Field(max_length=160)
    status: str = Field(max_length=12)
    flagged_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)

    def view(self) -> OversightView:
        return OversightView(
            self.oversight_id, self.regulator, self.procuratorate, OversightStatus(self.status)
        )


async def open_oversights(session: AsyncSession, case_id: str) -> list[OversightRecord]:
    rows = await session.exec(select(OversightRecord).where(OversightRecord.case_id == case_id))
    return [row for row in rows.all() if OversightStatus(row.status) in OPEN]


async def settle_reply(session: AsyncSession, oversight_id: str, now: datetime) -> None:
    """The regulator replied (or transferred): the reply deadline is met, late or not."""
    key = (col(DeadlineRecord.referral_id) == oversight_id, col(DeadlineRecord.stage) == REPLY)
    await session.exec(
        update(DeadlineRecord)
        .where(*key, col(DeadlineRecord.status) == DeadlineStatus.PENDING.value)
        .values(status=DeadlineStatus.MET.value, settled_at=now, **bump_version())
    )
    await session.exec(
        update(DeadlineRecord)
        .where(
            *key,
            col(DeadlineRecord.status) == DeadlineStatus.OVERDUE.value,
            col(DeadlineRecord.met_late_at).is_(None),
        )
        .values(met_late_at=now, **bump_version())
    )


class OversightFlow:
    """The ``oversight.*`` flow around a case file (the pipeline feeds it)."""

    def __init__(self, context: ServiceContext) -> None:
        check_threshold_rules(context.rules)
        self.context = context
        self.registry = context.registry
        self.log = context.log

    async def observe_oversight(self, uow: UnitOfWork, event: Event, case: CaseFile) -> None:
        """Feed one event already applied to ``case`` (called for every event on a case)."""
        payload = event.payload
        if isinstance(payload, CaseStatusChanged):
            await self._penalty_seen(uow, event, payload, case)
        elif isinstance(payload, OversightFlagged) and event.sender != COORDINATOR:
            raise StepRefused("only the coordinator flags a case for oversight")
        elif isinstance(payload, OversightSuggested | OversightAnswered):
            await self._reply_step(uow, event, payload)
        elif isinstance(payload, ReferralIssued) and payload.kind in CRIMINAL_KINDS:
            await self._transferred(uow, event, case.case_id)
        elif isinstance(payload, JudgmentFinal):
            await self._judged(uow, case.case_id)

    async def _penalty_seen(
        self, uow: UnitOfWork, event: Event, change: CaseStatusChanged, case: CaseFile
    ) -> None:
        findings = penalty_findings(change)
        if findings is None:
            return
        pending = await open_oversights(uow.session, case.case_id)
        crossed = flag_needed(case, findings, self.context.rules, open_oversight=bool(pending))
        if crossed is None:
            return
        regulator = self.registry.get(event.sender)
        procuratorate = self.registry.procuratorate_for(regulator.region)
        if procuratorate is None:
            self.log.warning("no procuratorate to flag a case to", region=regulator.region)
            return
        oversight_id = new_ulid()
        uow.session.add(
            OversightRecord(
                oversight_id=oversight_id,
                case_id=case.case_id,
                regulator=regulator.id,
                procuratorate=procuratorate.id,
                threshold_rule=crossed.version,
                status=OversightStatus.FLAGGED.value,
                flagged_at=uow.now,
                updated_at=uow.now,
            )
        )
        flag = OversightFlagged(
            oversight_id=oversight_id,
            case_id=case.case_id,
            regulator=regulator.id,
            findings=findings,
            threshold_rule=crossed.version,
            legal_source=crossed.rule.source,
            reason=f"penalised without a transfer: {crossed.reason(findings)}",
            penalized_at=event.envelope.time,
        )
        uow.emit(flag, to=procuratorate.id, case_id=case.case_id)

    async def _reply_step(
        self, uow: UnitOfWork, event: Event, payload: OversightSuggested | OversightAnswered
    ) -> None:
        record = await uow.session.get(OversightRecord, payload.oversight_id)
        if record is None or record.case_id != payload.case_id:
            raise StepRefused(f"oversight {payload.oversight_id} is not known on this case")
        try:
            status = step_oversight(record.view(), payload, event.sender)
        except RefusedStep as exc:
            raise StepRefused(str(exc)) from exc
        record.status = status.value
        record.updated_at = uow.now
        uow.session.add(record)
        if isinstance(payload, OversightAnswered):
            await settle_reply(uow.session, record.oversight_id, uow.now)
            return
        uow.session.add(
            DeadlineRecord(
                referral_id=record.oversight_id,
                stage=REPLY.value,
                case_id=record.case_id,
                kind=ReferralKind.ADMIN_TO_CRIMINAL.value,
                sender=record.procuratorate,
                recipient=record.regulator,
                supervisor=None,
                started_at=event.envelope.time,
                due_at=payload.reply_by,
                period=payload.reply_rule[:40],
            )
        )

    async def _transferred(self, uow: UnitOfWork, event: Event, case_id: str) -> None:
        for record in await open_oversights(uow.session, case_id):
            if record.regulator != event.sender:
                continue
            record.status = OversightStatus.TRANSFERRED.value
            record.updated_at = uow.now
            uow.session.add(record)
            await settle_reply(uow.session, record.oversight_id, uow.now)

    async def _judged(self, uow: UnitOfWork, case_id: str) -> None:
        """A final judgment closes the case's open oversight and its reply deadline."""
        for record in await open_oversights(uow.session, case_id):
            record.status = OversightStatus.CLOSED.value
            record.updated_at = uow.now
            uow.session.add(record)
            await settle_reply(uow.session, record.oversight_id, uow.now)
