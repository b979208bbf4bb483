"""The rights-holder desk adapter (kind ``rightsholders``): a holder's answer to customs.

Customs' notice (``holder.notified``, Decree 395 art. 16) reaches the desk through the
coordinator, which sends it only to the desk that represents the holder; the desk keeps it
(:class:`~services.holders.store.NoticeRecord`) and lists it in its gateway inbox. The
holder's system answers through the gateway or these methods, within 3 working days:

* :meth:`HolderDeskService.apply_for_detention` — ``holder.applied`` with the bond (art. 14;
  the amount the GAC's measures require is checked by customs);
* :meth:`HolderDeskService.decline_detention` — ``holder.declined``: customs releases.

Answers go to the coordinator, which checks the window and forwards them to customs. The
desk speaks only for the holders it ``represents``: every answer is checked here (the same
rule, :func:`contracts.senders.in_whose_name`, that the coordinator applies again).
"""

from typing import ClassVar

from sqlalchemy import MetaData
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event
from contracts.holders import HolderApplied, HolderDeclined, HolderLapsed, HolderNotified
from contracts.identifiers import Money
from contracts.senders import in_whose_name
from contracts.subjects import COORDINATOR
from services.holders.inbox import NoticeInbox
from services.holders.store import HoldersTable, NoticeRecord, NoticeState
from services.runtime.bus import StepRefused
from services.runtime.law import refuse_unpermitted
from services.sdk import AgencyService, UnitOfWork, handles

__all__ = ["HolderDeskService"]


class HolderDeskService(AgencyService):
    """One rights-holder desk on the bus (e.g. ``holders-desk``)."""

    service_name: ClassVar[str] = "holders"
    tables: ClassVar[tuple[MetaData, ...]] = (HoldersTable.metadata,)

    async def before_batch(self, session: AsyncSession, events: list[Event]) -> None:
        """Refuse (``not_permitted``) what a sender may not say at all (DESIGN §4a)."""
        for event in events:
            refuse_unpermitted(self.registry, event)
        await super().before_batch(session, events)

    def inbox_sources(self) -> list[NoticeInbox]:
        """What the gateway lists for the desk's systems: its notices."""
        return [NoticeInbox()]

    # -- what the desk receives -----------------------------------------------------------

    @handles(HolderNotified)
    async def on_notified(self, uow: UnitOfWork, event: Event) -> None:
        notice = event.payload
        assert isinstance(notice, HolderNotified)
        if event.sender != COORDINATOR or notice.holder not in self.agency.represents:
            raise StepRefused(
                f"{self.agency.id} takes notices from the coordinator for its own holders only"
            )
        if await uow.session.get(NoticeRecord, notice.notice_id) is not None:
            return
        uow.session.add(
            NoticeRecord(
                notice_id=notice.notice_id,
                holder=notice.holder,
                case_id=notice.case_id,
                detention_id=notice.detention_id,
                port=notice.port,
                hs_code=notice.hs_code,
                quantity=notice.quantity,
                ip_right=notice.ip_right.model_dump_json(),
                received_at=uow.now,
                respond_by=notice.respond_by,
            )
        )

    @handles(HolderLapsed)
    async def on_lapsed(self, uow: UnitOfWork, event: Event) -> None:
        lapsed = event.payload
        assert isinstance(lapsed, HolderLapsed)
        record = await uow.session.get(NoticeRecord, lapsed.notice_id)
        if record is not None and record.state == NoticeState.NOTIFIED:
            record.state, record.answered_at = NoticeState.LAPSED, uow.now
            uow.session.add(record)

    # -- what the desk says ---------------------------------------------------------------

    async def apply_for_detention(
        self, uow: UnitOfWork, notice_id: str, *, bond: Money, application_ref: str
    ) -> NoticeRecord:
        """The holder asks customs to detain the notified goods and posts ``bond``."""
        record = await self._open_notice(uow, notice_id)
        answer = HolderApplied(
            notice_id=notice_id, holder=record.holder, bond=bond, application_ref=application_ref
        )
        return self._answer(uow, record, answer, NoticeState.APPLIED, application_ref)

    async def decline_detention(
        self, uow: UnitOfWork, notice_id: str, *, reason: str
    ) -> NoticeRecord:
        """The holder does not ask for detention: customs releases the goods."""
        record = await self._open_notice(uow, notice_id)
        answer = HolderDeclined(notice_id=notice_id, holder=record.holder, reason=reason)
        return self._answer(uow, record, answer, NoticeState.DECLINED, None)

    async def submit_answer(self, uow: UnitOfWork, answer: HolderApplied | HolderDeclined) -> None:
        """An answer as an agency system submits it whole (the gateway's ``POST /events``)."""
        if (problem := in_whose_name(answer, self.agency)) is not None:
            raise StepRefused(problem)
        record = await self._open_notice(uow, answer.notice_id)
        if answer.holder != record.holder:
            raise StepRefused(
                f"notice {answer.notice_id} is to {record.holder!r}, not to {answer.holder!r}"
            )
        if isinstance(answer, HolderApplied):
            await self.apply_for_detention(
                uow, answer.notice_id, bond=answer.bond, application_ref=answer.application_ref
            )
        else:
            await self.decline_detention(uow, answer.notice_id, reason=answer.reason)

    async def _open_notice(self, uow: UnitOfWork, notice_id: str) -> NoticeRecord:
        record = await uow.session.get(NoticeRecord, notice_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} has no notice {notice_id}")
        if record.state != NoticeState.NOTIFIED:
            raise StepRefused(f"notice {notice_id} is {record.state}")
        return record

    def _answer(
        self,
        uow: UnitOfWork,
        record: NoticeRecord,
        answer: HolderApplied | HolderDeclined,
        state: str,
        ref: str | None,
    ) -> NoticeRecord:
        if (problem := in_whose_name(answer, self.agency)) is not None:
            raise StepRefused(problem)
        record.state, record.answered_at, record.answer_ref = state, uow.now, ref
        uow.session.add(record)
        uow.emit(answer, to=COORDINATOR)
        return record
