"""The customs adapter: detentions at the border, their legal clocks, and referral onward.

Two ways into a detention (知识产权海关保护条例, Decree 395 rev. 2018): the holder applies and
posts a bond unprompted (art. 15, :meth:`CustomsService.detain_goods`), or customs finds the
goods, notifies the holder (art. 16, :meth:`~CustomsService.notify_rights_holder`) and detains
once the holder's application and bond are recorded in time
(:meth:`~CustomsService.record_application`). The notice travels as ``holder.notified``
through the coordinator to the rights-holder desk that represents the holder; the desk's
answer comes back through the coordinator: ``holder.applied`` (with the bond the GAC's
measures require) detains, ``holder.declined`` or the coordinator's ``holder.lapsed``
releases. Goods are also released when customs' own clock runs out without the step it
waits for (:meth:`release_lapsed`), should the coordinator be silent.
"""

from datetime import datetime
from typing import ClassVar, TypeVar

from sqlalchemy import MetaData
from sqlmodel import select

from contracts.customs import DetentionBasis, GoodsConfiscated, GoodsDetained, GoodsReleased
from contracts.envelope import Event
from contracts.holders import HolderApplied, HolderDeclined, HolderLapsed, HolderNotified
from contracts.identifiers import Money, new_ulid
from contracts.subjects import COORDINATOR
from services.customs.bond import BOND_RULE, BondBands, BondTooLow, check_bond
from services.customs.confirmation import (
    RELEASE_CLOCK,
    ClockDue,
    CustomsClock,
    CustomsSettings,
    clock_due,
    release_reason,
)
from services.customs.confirmation_store import (
    ClockStatus,
    CustomsClockRecord,
    clocks_of,
    lapsed_clocks,
)
from services.customs.domain import Detention, case_title, detained_goods
from services.customs.store import CustomsTable, DetentionRecord
from services.runtime.bus import StepRefused
from services.runtime.law import policy_calendar, policy_section
from services.sdk import AgencyAdapter, ServiceContext, UnitOfWork, handles

__all__ = ["CustomsService"]

_HELD = ("notified", "detained")


class CustomsService(AgencyAdapter):
    """One customs office (e.g. ``customs-shanghai``) on the bus."""

    service_name: ClassVar[str] = "customs"
    tables: ClassVar[tuple[MetaData, ...]] = (CustomsTable.metadata,)

    def __init__(self, context: ServiceContext) -> None:
        super().__init__(context)
        self.settings = policy_section(context.policy, "customs", CustomsSettings)
        self.calendar = policy_calendar(context.policy)
        self.rules = context.rules
        self.confirmation_watch = self.periodic(
            self.release_lapsed, interval_s=self.settings.watch_seconds, name="customs-clock-watch"
        )

    async def on_started(self) -> None:
        self.confirmation_watch.start()

    async def stop(self) -> None:
        await self.confirmation_watch.stop()
        await super().stop()

    # -- the two ways in -----------------------------------------------------------------

    async def detain_goods(
        self, uow: UnitOfWork, detention: Detention, *, bond_ref: str | None = None
    ) -> DetentionRecord:
        """Detain on the holder's application and bond (art. 15): opens a case; released
        after 20 working days without a court's assistance notice (art. 24(1))."""
        record = await self._hold(
            uow, detention, status="detained", basis=DetentionBasis.APPLICATION
        )
        record.bond_ref = bond_ref
        release = self._start(uow, record, RELEASE_CLOCK[DetentionBasis.APPLICATION], uow.now)
        self._emit_detained(uow, record, release)
        return record

    async def notify_rights_holder(self, uow: UnitOfWork, detention: Detention) -> DetentionRecord:
        """Customs found suspected goods of a recorded right (art. 16): clearance suspended,
        the holder notified; it has 3 working days to apply and post a bond."""
        record = await self._hold(
            uow, detention, status="notified", basis=DetentionBasis.EX_OFFICIO
        )
        window = self._start(uow, record, CustomsClock.APPLICATION_AND_BOND, uow.now)
        uow.emit(
            HolderNotified(
                notice_id=record.detention_id,  # one notice per detention: the same id
                holder=detention.rights_holder,
                case_id=record.case_id,
                detention_id=record.detention_id,
                port=detention.port,
                hs_code=detention.hs_code,
                quantity=detention.quantity,
                ip_right=detention.ip_right,
                notified_at=uow.now,
                respond_by=window.due_at,
                rule_version=window.rule_version,
            ),
            to=COORDINATOR,
            case_id=record.case_id,
        )
        return record

    async def notify_holder(self, uow: UnitOfWork, detention: Detention) -> DetentionRecord:
        """The desk method by its issue name: :meth:`notify_rights_holder`."""
        return await self.notify_rights_holder(uow, detention)

    # -- the holder's answer, forwarded by the coordinator --------------------------------

    @handles(HolderApplied)
    async def on_holder_applied(self, uow: UnitOfWork, event: Event) -> None:
        """The holder applied and posted a bond in time: detain (art. 16 basis)."""
        applied = _forwarded(event, HolderApplied)
        await self._notified_holder(uow, applied)
        await self.record_application(
            uow, applied.notice_id, bond_ref=applied.application_ref, bond=applied.bond
        )

    @handles(HolderDeclined)
    async def on_holder_declined(self, uow: UnitOfWork, event: Event) -> None:
        """The holder does not ask for detention: customs must not detain (art. 16)."""
        declined = _forwarded(event, HolderDeclined)
        await self._notified_holder(uow, declined)
        await self.release_goods(
            uow,
            declined.notice_id,
            reason=f"the right holder declined to apply for detention: {declined.reason}",
        )

    @handles(HolderLapsed)
    async def on_holder_lapsed(self, uow: UnitOfWork, event: Event) -> None:
        """The coordinator reports the holder's window ran out: release, once."""
        lapsed = _forwarded(event, HolderLapsed)
        record = await uow.session.get(DetentionRecord, lapsed.notice_id)
        if record is None or record.status != "notified":
            return  # customs' own clock released them first, or an officer acted
        window = await uow.session.get(
            CustomsClockRecord, (lapsed.notice_id, CustomsClock.APPLICATION_AND_BOND.value)
        )
        reason = release_reason(
            CustomsClock.APPLICATION_AND_BOND,
            window.period if window else "the period",
            window.rule_version if window else "unknown rule",
        )
        await self.release_goods(uow, lapsed.notice_id, reason=reason)

    async def record_application(
        self, uow: UnitOfWork, detention_id: str, *, bond_ref: str, bond: Money | None = None
    ) -> DetentionRecord:
        """The holder applied and posted a bond after customs' notice: detain, if in time
        and, when the bond is given, if it covers what the GAC's measures require.
        Starts the investigation (30 working days, art. 20) and the release clock (50,
        art. 24(2))."""
        record = await self._held(uow, detention_id, expected="notified")
        if bond is not None:
            self._check_bond(record, bond)
        window = await uow.session.get(
            CustomsClockRecord, (detention_id, CustomsClock.APPLICATION_AND_BOND.value)
        )
        if window is None or window.status == ClockStatus.LAPSED.value:
            raise StepRefused(
                f"the holder's application for {detention_id} came after the window "
                f"({window.period if window else 'none'}); the goods are released"
            )
        if window.due_at is not None and uow.now > window.due_at:
            raise StepRefused(
                f"the holder's application for {detention_id} came after the window closed "
                f"({window.due_at:%Y-%m-%d %H:%M} UTC, {window.rule_version})"
            )
        _settle(window, ClockStatus.MET, uow.now)
        uow.session.add(window)
        record.status, record.bond_ref = "detained", bond_ref
        uow.session.add(record)
        self._start(uow, record, CustomsClock.INVESTIGATION, uow.now)
        release = self._start(uow, record, CustomsClock.COURT_NOTICE_EX_OFFICIO, uow.now)
        self._emit_detained(uow, record, release)
        return record

    # -- what ends a detention -----------------------------------------------------------

    async def record_court_notice(
        self, uow: UnitOfWork, detention_id: str, *, notice_ref: str
    ) -> DetentionRecord:
        """A court's assistance notice (order to stop infringing, property preservation)
        arrived: the release clock stops; the goods stay detained for the court (art. 23)."""
        record = await self._held(uow, detention_id, expected="detained")
        record.court_notice_ref = notice_ref
        uow.session.add(record)
        release = RELEASE_CLOCK[DetentionBasis(record.basis or DetentionBasis.APPLICATION)]
        clock = await uow.session.get(CustomsClockRecord, (detention_id, release.value))
        if clock is not None and clock.status in (ClockStatus.RUNNING, ClockStatus.NOT_COMPUTABLE):
            _settle(clock, ClockStatus.MET, uow.now)
            uow.session.add(clock)
        return record

    async def confiscate_goods(
        self, uow: UnitOfWork, detention_id: str, *, decision_ref: str
    ) -> DetentionRecord:
        record = await self._held(uow, detention_id, expected="detained")
        record.status = "confiscated"
        uow.session.add(record)
        await self._settle_all(uow, detention_id)
        uow.emit(
            GoodsConfiscated(
                detention_id=detention_id, case_id=record.case_id, decision_ref=decision_ref
            ),
            to=COORDINATOR,
            case_id=record.case_id,
        )
        return record

    async def release_goods(
        self, uow: UnitOfWork, detention_id: str, *, reason: str
    ) -> DetentionRecord:
        record = await self._held(uow, detention_id)
        record.status = "released"
        uow.session.add(record)
        await self._settle_all(uow, detention_id)
        uow.emit(
            GoodsReleased(detention_id=detention_id, case_id=record.case_id, reason=reason),
            to=COORDINATOR,
            case_id=record.case_id,
        )
        return record

    async def release_lapsed(self) -> int:
        """Act on every clock that ran out; return how many detentions were released."""
        await self._recompute_not_computable()
        async with self.database.transaction() as session:
            lapsed = await lapsed_clocks(session, self.clock.now())
        released = 0
        for lapse in lapsed:
            async with self.unit_of_work() as uow:
                clock = await uow.session.get(CustomsClockRecord, (lapse.detention_id, lapse.clock))
                if clock is None or clock.status != ClockStatus.RUNNING.value:
                    continue
                _settle(clock, ClockStatus.LAPSED, uow.now)
                uow.session.add(clock)
                if clock.clock == CustomsClock.INVESTIGATION.value:
                    self.log.warning(
                        "customs investigation period ran out: notify the holder (art. 20)",
                        detention_id=clock.detention_id,
                        rule_version=clock.rule_version,
                    )
                    continue
                record = await uow.session.get(DetentionRecord, clock.detention_id)
                if record is None or record.status not in _HELD:
                    continue
                reason = release_reason(CustomsClock(clock.clock), clock.period, clock.rule_version)
                await self.release_goods(uow, clock.detention_id, reason=reason)
                released += 1
        return released

    # -- helpers -------------------------------------------------------------------------

    async def _hold(
        self, uow: UnitOfWork, detention: Detention, *, status: str, basis: DetentionBasis
    ) -> DetentionRecord:
        case_id, detention_id = new_ulid(), new_ulid()
        await self.open_case(
            uow,
            case_id=case_id,
            local_ref=detention.local_ref,
            title=case_title(detention),
            ip_rights=(detention.ip_right,),
            parties=detention.parties,
            goods=(detention.goods,),
        )
        record = DetentionRecord(
            detention_id=detention_id,
            case_id=case_id,
            port=detention.port,
            hs_code=detention.hs_code,
            quantity=detention.quantity,
            status=status,
            detained_at=uow.now,
            basis=basis.value,
        )
        record.goods_event = detained_goods(
            detention, detention_id=detention_id, case_id=case_id
        ).model_dump_json()
        uow.session.add(record)
        return record

    def _start(
        self, uow: UnitOfWork, record: DetentionRecord, clock: CustomsClock, at: datetime
    ) -> ClockDue:
        due = clock_due(clock, at, self.rules, self.calendar)
        uow.session.add(
            CustomsClockRecord(
                detention_id=record.detention_id,
                clock=clock.value,
                case_id=record.case_id,
                started_at=at,
                due_at=due.due_at,
                period=due.period.describe(),
                rule_version=due.rule_version,
                status=_status_of(due).value,
                problem=due.problem,
            )
        )
        if due.problem is not None:
            self.metrics.calendar_not_covered(clock.value)
            self.log.error(
                "customs clock not computable: no release on it until the calendar covers it",
                detention_id=record.detention_id,
                clock=clock.value,
                problem=due.problem,
            )
        return due

    def _emit_detained(self, uow: UnitOfWork, record: DetentionRecord, release: ClockDue) -> None:
        event = GoodsDetained.model_validate_json(record.goods_event)
        uow.emit(
            event.model_copy(
                update={
                    "basis": DetentionBasis(record.basis or DetentionBasis.APPLICATION),
                    "release_due_at": release.due_at,
                    "rule_version": release.rule_version,
                }
            ),
            to=COORDINATOR,
            case_id=record.case_id,
        )

    async def _notified_holder(
        self, uow: UnitOfWork, answer: HolderApplied | HolderDeclined
    ) -> DetentionRecord:
        """The notified detention, if ``answer`` names the holder customs notified."""
        record = await self._held(uow, answer.notice_id, expected="notified")
        notified = GoodsDetained.model_validate_json(record.goods_event).rights_holder
        if answer.holder != notified:
            raise StepRefused(
                f"notice {answer.notice_id} went to {notified!r}, "
                f"{answer.holder!r} cannot answer it"
            )
        return record

    def _check_bond(self, record: DetentionRecord, bond: Money) -> None:
        declared = GoodsDetained.model_validate_json(record.goods_event).declared_value
        rule = self.rules.in_force(BOND_RULE, self.calendar.local_date(self.clock.now()))
        try:
            check_bond(bond, declared, rule.values_as(BondBands), rule.version)
        except BondTooLow as exc:
            raise StepRefused(f"application for {record.detention_id} refused: {exc}") from exc

    async def _recompute_not_computable(self) -> None:
        """Retry the clocks the calendar refused (a new year's notice, after a restart)."""
        async with self.database.transaction() as session:
            rows = await session.exec(
                select(CustomsClockRecord).where(
                    CustomsClockRecord.status == ClockStatus.NOT_COMPUTABLE.value
                )
            )
            for row in rows.all():
                due = clock_due(CustomsClock(row.clock), row.started_at, self.rules, self.calendar)
                if due.problem is None:
                    row.due_at, row.status, row.problem = (
                        due.due_at,
                        ClockStatus.RUNNING.value,
                        None,
                    )
                    session.add(row)

    async def _settle_all(self, uow: UnitOfWork, detention_id: str) -> None:
        for clock in await clocks_of(uow.session, detention_id):
            if clock.status in (ClockStatus.RUNNING.value, ClockStatus.NOT_COMPUTABLE.value):
                _settle(clock, ClockStatus.MET, uow.now)
                uow.session.add(clock)

    async def _held(
        self, uow: UnitOfWork, detention_id: str, *, expected: str | None = None
    ) -> DetentionRecord:
        record = await uow.session.get(DetentionRecord, detention_id)
        if record is None:
            raise StepRefused(f"{self.agency.id} holds no detention {detention_id}")
        if record.status not in ((expected,) if expected else _HELD):
            raise StepRefused(f"detention {detention_id} is {record.status}")
        return record


_Forwarded = TypeVar("_Forwarded", HolderApplied, HolderDeclined, HolderLapsed)


def _forwarded(event: Event, model: type[_Forwarded]) -> _Forwarded:
    """The payload, if the coordinator sent it: a desk's answer counts only as the hub
    forwards it (it checked the window and that the desk represents the holder)."""
    if event.sender != COORDINATOR or not isinstance(event.payload, model):
        raise StepRefused(
            f"{event.event_type} from {event.sender}: customs takes a holder's answer only "
            "as the coordinator forwards it"
        )
    return event.payload


def _settle(clock: CustomsClockRecord, status: ClockStatus, now: datetime) -> None:
    clock.status, clock.settled_at = status.value, now


def _status_of(due: ClockDue) -> ClockStatus:
    return ClockStatus.RUNNING if due.problem is None else ClockStatus.NOT_COMPUTABLE
