"""The coordinator's work on the events it reads, as one explicit pipeline.

The SDK's receive loop decodes each message, checks its envelope and signature,
dead-letters what breaks the contract and opens one transaction per batch (one per event
after a failure); it hands the checked events to :meth:`CasePipeline.apply`, which runs,
in this order, one named step each:

1. :meth:`~CasePipeline.claim` — record the batch in the inbox: new, applied before, or a
   conflicting duplicate;
2. :meth:`~CasePipeline.check` — who may say what (DESIGN §4a), for every new event of the
   batch before any of it is applied;
3. :meth:`~CasePipeline.load` — read the batch's case files, its referrals' deadline
   rows and overdue marks, at once (:class:`BatchRows`);

then for each new event:

4. :meth:`~CasePipeline.fold` — the case file and its timeline line after the event
   (pure: :func:`services.coordinator.cases.domain.apply_event`);
5. :meth:`~CasePipeline.store` — the case file and the timeline line, written at commit;
6. :meth:`~CasePipeline.react` — what follows: deadlines and copies of a referral step,
   the clocks an outcome stops, evidence and its receipts, linkage signals, oversight,
   credit listings, the warning desk;
7. :meth:`~CasePipeline.observe` — the watch lists and the metrics;

and last, for the batch:

8. :meth:`~CasePipeline.audit` — the accepted events chained in the audit log, in stream
   order. It is last because the chain is one for every partition: on PostgreSQL its
   lock is held from the first append to the commit, so the partitions applying at once
   wait on each other only for that (issue 18). Work across cases in ``react`` (a party
   seen in several cases, a company's listing, detentions at a port) takes its own
   advisory lock first (:func:`services.runtime.storage.take_turns`).

The case file and the referral an event is about are loaded once and passed from step to
step as plain values; a batch's rows are read before its first event, a statement per
table for the batch rather than one per event.
"""

from dataclasses import dataclass

from nats.aio.msg import Msg
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event, RejectReason
from contracts.referrals import ReferralIssued, ReferralPayload
from services.coordinator.audit.log import audit_accepted, audit_rejected
from services.coordinator.cases.domain import (
    CaseFile,
    CaseReferral,
    EventFacts,
    NotAParty,
    NotPermitted,
    RefusedStep,
    TimelineLine,
    apply_event,
    case_id_of,
    needs_case,
)
from services.coordinator.cases.store import CaseFiles, append_timeline
from services.coordinator.credit.flow import CreditFlow
from services.coordinator.deadlines.followup import follow_case_outcome, follow_referral_step
from services.coordinator.deadlines.store import ReferralClocks
from services.coordinator.evidence.ledger import follow_evidence
from services.coordinator.holders import HolderNotices
from services.coordinator.metrics.recorder import observe_event
from services.coordinator.metrics.store import load_overdue_marks
from services.coordinator.oversight.flow import OversightFlow
from services.coordinator.signals.detector import LinkageSignals
from services.coordinator.warnings.hub import WarningHub
from services.runtime.bus import InboxVerdict, PermanentError, StepRefused, claim_in_inbox
from services.runtime.law import BusinessCalendar, refuse_unpermitted
from services.runtime.ops import AgencyMetrics, apply_span
from services.runtime.storage import take_turns
from services.sdk import ServiceContext, UnitOfWork, conflicting_duplicate, referral_supervisor

__all__ = ["BatchRows", "CasePipeline", "Folded"]


@dataclass(frozen=True, slots=True)
class Folded:
    """A case event folded into its case file: the file before and after, and its line."""

    before: CaseFile | None
    case: CaseFile
    line: TimelineLine


@dataclass(frozen=True, slots=True)
class BatchRows:
    """What one transaction reads once and keeps in step: the case files and the
    referrals' deadline rows (their overdue marks are the session's rows)."""

    cases: CaseFiles
    clocks: ReferralClocks


class CasePipeline:
    """Claims, checks, folds, stores, audits and reacts: the coordinator's :class:`Applier`."""

    def __init__(
        self,
        context: ServiceContext,
        *,
        consumer: str,
        calendar: BusinessCalendar,
        metrics: AgencyMetrics,
        warnings: WarningHub,
        signals: LinkageSignals,
        oversight: OversightFlow,
        holders: HolderNotices,
        credit: CreditFlow,
    ) -> None:
        self.context = context
        self.consumer = consumer
        self.calendar = calendar
        self.metrics = metrics
        self.warnings = warnings
        self.signals = signals
        self.oversight = oversight
        self.holders = holders
        self.credit = credit

    async def apply(self, session: AsyncSession, events: list[Event]) -> list[UnitOfWork | None]:
        """Run the steps over a batch in ``session``'s transaction; None for each event
        applied before. Any step may raise, and then nothing of the batch is applied."""
        verdicts = await self.claim(session, events)
        fresh = [e for e, v in zip(events, verdicts, strict=True) if v is InboxVerdict.NEW]
        self.check(fresh)
        await self.take_turns(session, fresh)
        rows = await self.load(session, fresh)
        units: list[UnitOfWork | None] = []
        for event, verdict in zip(events, verdicts, strict=True):
            with apply_span(self.consumer, event):
                units.append(await self._apply_one(session, rows, event, verdict))
        for event, uow in zip(events, units, strict=True):
            if uow is not None:
                await self.audit(uow, event)
        return units

    async def _apply_one(
        self, session: AsyncSession, rows: BatchRows, event: Event, verdict: InboxVerdict
    ) -> UnitOfWork | None:
        if verdict is InboxVerdict.CONFLICTING:
            raise conflicting_duplicate(event)
        if verdict is InboxVerdict.ALREADY_APPLIED:
            return None
        uow = UnitOfWork(session, self.context, cause=event)
        folded = None
        if not self._off_case_file(event.event_type):
            folded = await self.fold(rows.cases, event)
            if folded is not None:
                self.store(uow, rows.cases, folded)
        payload = event.payload
        referral = (
            await rows.cases.referral(payload.referral_id)
            if isinstance(payload, ReferralPayload)
            else None
        )
        await self.react(uow, event, folded, referral, rows)
        await self.observe(uow, event, referral)
        return uow

    # -- the steps ---------------------------------------------------------------------

    async def claim(self, session: AsyncSession, events: list[Event]) -> list[InboxVerdict]:
        """Record the events in the coordinator's inbox, in this transaction."""
        return await claim_in_inbox(session, self.consumer, events, self.context.clock.now())

    async def take_turns(self, session: AsyncSession, fresh: list[Event]) -> None:
        """Take every cross-case turn the batch will need, in one go (PostgreSQL): taken
        event by event, two partitions' batches naming two parties in opposite orders
        would each hold one and wait for the other, a deadlock PostgreSQL ends by
        rolling one back. The steps take their turns again, at no cost."""
        await take_turns(
            session,
            *(turn for e in fresh for turn in self.signals.turns(e) | self.credit.turns(e)),
        )

    def check(self, fresh: list[Event]) -> None:
        """Refuse (``not_permitted``) a sender the table does not allow to say a type at
        all: it depends on the registry alone, so every new event is checked, case event
        or not, before anything of the batch is applied."""
        for event in fresh:
            refuse_unpermitted(self.context.registry, event)

    async def load(self, session: AsyncSession, fresh: list[Event]) -> BatchRows:
        """The case files of the new events, and their referrals' deadline rows and
        overdue marks, each read at once."""
        rows = BatchRows(CaseFiles(session), ReferralClocks(session))
        wanted = {case_id_of(e.case_id, e.payload) for e in fresh}
        await rows.cases.preload({c for c in wanted if c is not None})
        referrals = {e.payload.referral_id for e in fresh if isinstance(e.payload, ReferralPayload)}
        await rows.clocks.preload(referrals)
        await load_overdue_marks(session, referrals)
        return rows

    async def fold(self, cases: CaseFiles, event: Event) -> Folded | None:
        """The event applied to its case file (None: it is about no case and needs none);
        a party, permission or state-machine refusal dead-letters it with its reason."""
        case_id = case_id_of(event.case_id, event.payload)
        if case_id is None:
            if needs_case(event.event_type):
                raise PermanentError(
                    RejectReason.NOT_A_PARTY,
                    f"{event.event_type} names no case, so {event.sender} is party to none",
                )
            return None
        before = await cases.get(case_id)
        try:
            case, line = apply_event(before or CaseFile(case_id=case_id), self._facts(event))
        except NotAParty as exc:
            raise PermanentError(RejectReason.NOT_A_PARTY, str(exc)) from exc
        except NotPermitted as exc:
            raise PermanentError(RejectReason.NOT_PERMITTED, str(exc)) from exc
        except RefusedStep as exc:
            raise StepRefused(str(exc)) from exc
        return Folded(before, case, line)

    def store(self, uow: UnitOfWork, cases: CaseFiles, folded: Folded) -> None:
        """The case file (what changed) and its timeline line, written at commit."""
        cases.save(folded.case, uow.now, folded.before)
        append_timeline(uow.session, folded.case.case_id, folded.line)

    async def audit(self, uow: UnitOfWork, event: Event) -> None:
        """Chain the accepted event in the audit log (the inbox just proved it new)."""
        await audit_accepted(uow.session, event, uow.now)

    async def react(
        self,
        uow: UnitOfWork,
        event: Event,
        folded: Folded | None,
        referral: CaseReferral | None,
        rows: BatchRows,
    ) -> None:
        """What the coordinator does about the event, in its transaction: a referral step's
        deadlines and copies, linkage signals and oversight for a case event; the warning
        desk's work for a warning; the holder desk's for a notice to a rights holder."""
        if folded is None:
            if self.warnings.takes(event.event_type):
                await self.warnings.take(uow, event)
            elif self.holders.takes(event.event_type):
                await self.holders.take(uow, event, rows.cases)
            return
        case = folded.case
        await follow_referral_step(
            uow,
            case,
            event,
            referral,
            clocks=rows.clocks,
            rules=self.context.rules,
            calendar=self.calendar,
            metrics=self.metrics,
        )
        await follow_case_outcome(uow, case, event)
        await follow_evidence(uow, event, case)
        await self.signals.observe_linkage(uow, event, case.case_id)
        await self.oversight.observe_oversight(uow, event, case)
        await self.credit.observe_credit(uow, event, case.case_id)

    async def observe(self, uow: UnitOfWork, event: Event, referral: CaseReferral | None) -> None:
        """The watch lists in this transaction; the event's readings once committed."""
        await observe_event(uow, event, referral, self.metrics)

    def _off_case_file(self, event_type: str) -> bool:
        """A warning is filed on no case; a holder's notice stays off the case file, so the
        desk that answers it never becomes a party (it sees its notices only)."""
        return self.warnings.takes(event_type) or self.holders.takes(event_type)

    # -- refusals ------------------------------------------------------------------------

    async def refused(self, msg: Msg, reason: RejectReason, detail: str) -> None:
        """Audit the refused message, chained before it is acknowledged; count who-may-say."""
        # the partitions' batches append to the same chain (SQLite: one writer at a time)
        now = self.context.clock.now()
        await self.context.database.write(
            lambda session: audit_rejected(session, msg, self.consumer, reason, detail, now)
        )
        self.metrics.refused_by_authority(reason)

    def _facts(self, event: Event) -> EventFacts:
        payload = event.payload
        return EventFacts(
            event_id=event.id,
            event_type=event.event_type,
            sender=event.sender,
            recipient=event.recipient,
            time=event.envelope.time,
            payload=payload,
            supervisor=(
                referral_supervisor(
                    self.context.registry, event.sender, event.recipient, payload.kind
                )
                if isinstance(payload, ReferralIssued)
                else None
            ),
        )
