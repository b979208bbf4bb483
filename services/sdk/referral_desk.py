"""The agency side of referrals: what every adapter that sends or receives them shares.

Each agency keeps its own ledger of the referrals it sent and received, stepped by the one
state machine in :mod:`contracts.referrals`. A received referral is acknowledged
automatically in the same transaction that stores it — the receipt means "durably here".
Services react through two hooks; the officers' decisions (accept, decline, conclude,
withdraw, and the reconsideration and supervision steps) are commands on the desk.

A referral has up to three parties: sender, recipient and *supervisor* (the procuratorate of
the recipient's region). A step goes to the one party that must act on it; the coordinator
copies the new state (``referral.copied``) to the party left out. An illegal step from
another agency is refused — state unchanged, dead-lettered — and reported back to whoever
attempted it with ``referral.refused``.
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event
from contracts.identifiers import Money, new_ulid
from contracts.linkage import (
    FilingNotified,
    ReconsiderationRequested,
    ReferralCopied,
    ReferralDeclineUpheld,
    ReferralRefused,
    RefusalExplained,
    SupervisionClosed,
    SupervisionOpened,
)
from contracts.referral_clocks import ReferralClockResumed, ReferralClockStopped, ReferralExtended
from contracts.referrals import (
    REFERRAL_STEPS,
    AssistancePurpose,
    Evidence,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralIssued,
    ReferralKind,
    ReferralOverdue,
    ReferralParty,
    ReferralPayload,
    ReferralState,
    ReferralWithdrawn,
)
from contracts.senders import referral_route_problem
from contracts.subjects import COORDINATOR
from services.runtime.bus import InboxVerdict, PermanentError, StepRefused, record_in_inbox
from services.sdk.referral_ledger import (
    ReferralRecord,
    in_ledger,
    party_of,
    receipt_number,
    step_record,
)
from services.sdk.referral_linkage import (
    ReferralSteps,
    check_reconsideration_window,
    referral_supervisor,
)
from services.sdk.rows import add_row, find_row, load_rows
from services.sdk.service import UnitOfWork, handles

__all__ = ["ReferralDesk"]


class ReferralDesk(ReferralSteps):
    """An :class:`AgencyService` that can send and receive referrals."""

    # -- hooks --------------------------------------------------------------------------

    async def on_referral_received(
        self, uow: UnitOfWork, referral: ReferralRecord, issued: ReferralIssued
    ) -> None:
        """A referral addressed to us is stored and acknowledged; react here."""

    async def on_referral_changed(
        self, uow: UnitOfWork, referral: ReferralRecord, event: Event
    ) -> None:
        """A referral we sent or received moved to a new state (or went overdue)."""

    # -- commands -----------------------------------------------------------------------

    async def issue_referral(
        self,
        uow: UnitOfWork,
        *,
        case_id: str,
        to: str,
        kind: ReferralKind,
        reason: str,
        legal_basis: str,
        summary: str,
        evidence: tuple[Evidence, ...] = (),
        amount: Money | None = None,
    ) -> ReferralRecord:
        """Refer ``case_id`` to agency ``to``; the referral starts in ``issued``."""
        issued = ReferralIssued(
            referral_id=new_ulid(),
            case_id=case_id,
            kind=kind,
            reason=reason,
            legal_basis=legal_basis,
            summary=summary,
            evidence=list(evidence),
            amount=amount,
        )
        return await self._send(uow, issued, to=to, fresh=True)

    async def request_assistance(
        self,
        uow: UnitOfWork,
        *,
        case_id: str,
        to: str,
        purpose: AssistancePurpose,
        reason: str,
        legal_basis: str,
        summary: str,
        evidence: tuple[Evidence, ...] = (),
    ) -> ReferralRecord:
        """Ask the regulator of another province to investigate a lead or serve a document
        for ``case_id`` (a ``regulator_assistance`` referral, 协助调查函); its deadlines are
        the policy's ``referral.*.regulator_assistance`` rules."""
        issued = ReferralIssued(
            referral_id=new_ulid(),
            case_id=case_id,
            kind=ReferralKind.REGULATOR_ASSISTANCE,
            reason=reason,
            legal_basis=legal_basis,
            summary=summary,
            evidence=list(evidence),
            purpose=purpose,
        )
        return await self._send(uow, issued, to=to, fresh=True)

    async def send_referral(
        self, uow: UnitOfWork, issued: ReferralIssued, *, to: str
    ) -> ReferralRecord:
        """Send a referral made whole elsewhere (an agency system submitting through the
        gateway, under its own ``referral_id``) to agency ``to``; it starts in ``issued``.
        A referral id already in the ledger is refused."""
        return await self._send(uow, issued, to=to, fresh=False)

    async def _send(
        self, uow: UnitOfWork, issued: ReferralIssued, *, to: str, fresh: bool
    ) -> ReferralRecord:
        """``fresh``: the id is a ULID just made here, so no SELECT looks for it."""
        recipient = self.registry.get(to)  # an unknown recipient fails here, not at the other end
        if (problem := referral_route_problem(issued, self.agency, recipient)) is not None:
            raise StepRefused(problem)
        if not fresh and await in_ledger(uow, issued.referral_id):
            raise StepRefused(f"referral {issued.referral_id} was already issued")
        now = self.clock.now()
        record = ReferralRecord(
            referral_id=issued.referral_id,
            case_id=issued.case_id,
            kind=issued.kind.value,
            role=ReferralParty.SENDER.value,
            sender=self.agency.id,
            recipient=to,
            state=ReferralState.ISSUED.value,
            supervisor=referral_supervisor(self.registry, self.agency.id, to, issued.kind),
            issued_at=now,
            updated_at=now,
        )
        add_row(uow.session, record)
        uow.emit(issued, to=to, case_id=issued.case_id)
        return record

    async def accept_referral(
        self, uow: UnitOfWork, referral_id: str, *, local_ref: str
    ) -> ReferralRecord:
        """Take on a received referral under our own reference."""
        return await self._answer(
            uow, referral_id, ReferralAccepted(referral_id=referral_id, local_ref=local_ref)
        )

    async def decline_referral(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        return await self._answer(
            uow, referral_id, ReferralDeclined(referral_id=referral_id, reason=reason)
        )

    async def conclude_referral(
        self, uow: UnitOfWork, referral_id: str, *, outcome: str
    ) -> ReferralRecord:
        return await self._answer(
            uow, referral_id, ReferralConcluded(referral_id=referral_id, outcome=outcome)
        )

    async def withdraw_referral(
        self, uow: UnitOfWork, referral_id: str, *, reason: str
    ) -> ReferralRecord:
        return await self._answer(
            uow, referral_id, ReferralWithdrawn(referral_id=referral_id, reason=reason)
        )

    # -- reading ------------------------------------------------------------------------

    async def before_batch(self, session: AsyncSession, events: list[Event]) -> None:
        """Load the ledger rows of every referral the batch names with one SELECT, so each
        handler finds its row (or its absence) without a statement of its own."""
        await super().before_batch(session, events)
        await load_rows(
            session,
            ReferralRecord,
            ReferralRecord.referral_id,
            (e.payload.referral_id for e in events if isinstance(e.payload, ReferralPayload)),
        )

    # -- refusals -----------------------------------------------------------------------

    async def on_refused(self, event: Event, refusal: PermanentError) -> None:
        """Report an illegal referral step back to the agency that attempted it, once."""
        step = event.payload
        if (
            not isinstance(refusal, StepRefused)
            or event.event_type not in REFERRAL_STEPS
            or not isinstance(step, ReferralPayload)
            or event.sender in (self.agency.id, COORDINATOR)
        ):
            return
        report = ReferralRefused(
            referral_id=step.referral_id,
            refused_event_id=event.id,
            attempted=event.event_type,
            reason=refusal.detail,
        )
        async with self.unit_of_work(cause=event) as uow:
            claimed = await record_in_inbox(
                uow.session, f"{self.consumer.durable}/refusals", event, uow.now
            )
            if claimed is InboxVerdict.NEW:
                uow.emit(report, to=event.sender)

    # -- handlers -----------------------------------------------------------------------

    @handles(ReferralIssued)
    async def _on_issued(self, uow: UnitOfWork, event: Event) -> None:
        issued = event.payload_of(ReferralIssued)
        if event.recipient != self.agency.id:
            return
        if issued.case_id != event.case_id:
            raise StepRefused(
                f"referral {issued.referral_id} names case {issued.case_id} but the "
                f"envelope subject is {event.case_id}"
            )
        if await in_ledger(uow, issued.referral_id):
            raise StepRefused(f"referral {issued.referral_id} was already issued")
        now = self.clock.now()
        record = ReferralRecord(
            referral_id=issued.referral_id,
            case_id=issued.case_id,
            kind=issued.kind.value,
            role=ReferralParty.RECIPIENT.value,
            sender=event.sender,
            recipient=self.agency.id,
            state=ReferralState.ISSUED.value,
            supervisor=referral_supervisor(
                self.registry, event.sender, self.agency.id, issued.kind
            ),
            issued_at=event.envelope.time,
            updated_at=now,
        )
        receipt = receipt_number(self.agency.id, issued.referral_id)
        acknowledged = ReferralAcknowledged(referral_id=issued.referral_id, receipt=receipt)
        step_record(record, acknowledged.event_type, ReferralParty.RECIPIENT, now, acknowledged)
        add_row(uow.session, record)
        uow.emit(acknowledged, to=event.sender, case_id=issued.case_id)
        await self.on_referral_received(uow, record, issued)

    @handles(
        ReferralAcknowledged,
        ReferralAccepted,
        ReferralDeclined,
        ReferralConcluded,
        ReferralWithdrawn,
        ReconsiderationRequested,
        ReferralDeclineUpheld,
        SupervisionOpened,
        RefusalExplained,
        FilingNotified,
        SupervisionClosed,
        ReferralExtended,
        ReferralClockStopped,
        ReferralClockResumed,
    )
    async def _on_step(self, uow: UnitOfWork, event: Event) -> None:
        step = event.payload_of(ReferralPayload)
        referral_id = step.referral_id
        record = await self.referral(uow, referral_id)
        by = party_of(record, event.sender)
        if by is None or by.value == record.role:
            raise StepRefused(
                f"{event.sender} is not party to referral {referral_id} "
                f"({record.sender} → {record.recipient})"
            )
        if (
            isinstance(step, ReconsiderationRequested)
            and record.state == ReferralState.DECLINED.value
        ):
            check_reconsideration_window(
                record.updated_at,
                event.envelope.time,
                self.rules,
                self.business_calendar,
            )
        step_record(record, event.event_type, by, self.clock.now(), event.payload)
        uow.session.add(record)
        await self.on_referral_changed(uow, record, event)

    @handles(ReferralOverdue)
    async def _on_overdue(self, uow: UnitOfWork, event: Event) -> None:
        overdue = event.payload_of(ReferralOverdue)
        record = await find_row(uow.session, ReferralRecord, overdue.referral_id)
        if record is not None:
            await self.on_referral_changed(uow, record, event)

    @handles(ReferralCopied)
    async def _on_copied(self, uow: UnitOfWork, event: Event) -> None:
        """The coordinator's copy of a step we were left out of: our ledger follows it."""
        copy = event.payload_of(ReferralCopied)
        if event.sender != COORDINATOR:
            raise StepRefused(f"only the coordinator copies referral states, not {event.sender}")
        record = await find_row(uow.session, ReferralRecord, copy.referral_id)
        now = self.clock.now()
        if record is None:
            record = ReferralRecord(
                referral_id=copy.referral_id,
                case_id=copy.case_id,
                kind=copy.kind.value,
                role="",
                sender=copy.sender,
                recipient=copy.recipient,
                state=copy.state.value,
                supervisor=referral_supervisor(
                    self.registry, copy.sender, copy.recipient, copy.kind
                ),
                issued_at=event.envelope.time,
                updated_at=now,
            )
            role = party_of(record, self.agency.id)
            if role is None:
                raise StepRefused(f"{self.agency.id} is not party to referral {copy.referral_id}")
            record.role = role.value
        record.state = copy.state.value
        record.updated_at = now
        if copy.note:
            record.note = copy.note
        add_row(uow.session, record)
        await self.on_referral_changed(uow, record, event)
