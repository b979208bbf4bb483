"""The realistic mix: what agencies do on a working day, through their adapters.

Per case, Shanghai Customs opens it and refers it to the Shanghai market regulator
(``customs_to_enforcement``); the regulator's adapter acknowledges on receipt (the SDK does),
accepts and concludes it; the coordinator keeps each referral's deadlines and copies. Every
``WARNING_EVERY`` cases the overseas centre raises a counterfeit-route warning for Shanghai;
the coordinator routes it and every running recipient acknowledges it. All of it goes
through the real services (unit of work, outbox, relay, each agency's own consumer), into
the coordinator process(es).

Counted: every event an agency emits (``case.opened``, ``referral.*``, ``warning.issued``,
``warning.acknowledged``), as the baseline counts the events it carries; the coordinator's
own fan-out (``warning.delivered``, ``referral.copied``) is extra work on top, not counted.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from sqlmodel import col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from contracts.agencies import AgencyKind, WarningCategory
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralIssued, ReferralKind
from contracts.warnings import Severity, WarningIssued, WarningTargets
from services.customs.app import CustomsService
from services.enforcement.app import EnforcementService
from services.overseas.app import OverseasService
from services.sdk import AgencyService, Bus, ReferralRecord, UnitOfWork, WarningRecord

__all__ = ["MIX_AGENCIES", "MixCounts", "mix_services", "play_mix"]

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
OVERSEAS = "overseas-center"
MIX_AGENCIES = (CUSTOMS, REGULATOR, OVERSEAS)
WARNING_EVERY = 10
"""One warning per this many cases (two recipients acknowledge it)."""
CASES_PER_TRANSACTION = 20
"""Cases customs opens and refers per adapter transaction (two events each)."""


class _Customs(CustomsService):
    """Customs that acknowledges a delivered warning as soon as it arrives."""

    async def on_warning_received(
        self, uow: UnitOfWork, record: WarningRecord, warning: WarningIssued
    ) -> None:
        await self.acknowledge_warning(uow, record.warning_id)


class _Regulator(EnforcementService):
    """A regulator that takes and concludes every referral in the transaction receiving it
    (acknowledged by the SDK first), and acknowledges every warning."""

    service_name: ClassVar[str] = "enforcement"

    async def on_referral_received(
        self, uow: UnitOfWork, referral: ReferralRecord, issued: ReferralIssued
    ) -> None:
        await self.accept_referral(uow, referral.referral_id, local_ref=f"R-{new_ulid()[-8:]}")
        await self.conclude_referral(uow, referral.referral_id, outcome="warning letter issued")

    async def on_warning_received(
        self, uow: UnitOfWork, record: WarningRecord, warning: WarningIssued
    ) -> None:
        await self.acknowledge_warning(uow, record.warning_id)


def mix_services() -> dict[AgencyKind, type[AgencyService]]:
    """The service class per agency kind, for :class:`Bus`."""
    return {
        AgencyKind.CUSTOMS: _Customs,
        AgencyKind.ENFORCEMENT: _Regulator,
        AgencyKind.OVERSEAS: OverseasService,
    }


@dataclass(frozen=True, slots=True)
class MixCounts:
    """What one run of the mix emitted, counted by the agencies' own ledgers."""

    cases: int
    referrals_concluded: int
    warnings: int
    acknowledgements: int

    @property
    def agency_events(self) -> int:
        # case.opened + referral.issued/acknowledged/accepted/concluded per case;
        # warning.issued + one warning.acknowledged per recipient
        return self.cases + 4 * self.referrals_concluded + self.warnings + self.acknowledgements


async def play_mix(bus: Bus, cases: int) -> MixCounts:
    """Open and refer ``cases`` cases, raise a warning every ``WARNING_EVERY``; return when
    every referral is concluded and every warning acknowledged in the agencies' ledgers."""
    customs = bus.services[CUSTOMS]
    overseas = bus.services[OVERSEAS]
    assert isinstance(customs, CustomsService)
    assert isinstance(overseas, OverseasService)
    warnings = 0
    for first in range(0, cases, CASES_PER_TRANSACTION):
        async with customs.unit_of_work() as uow:
            for n in range(first, min(first + CASES_PER_TRANSACTION, cases)):
                case_id = new_ulid()
                await customs.open_case(
                    uow, case_id=case_id, local_ref=f"SH-CUS-MIX-{n:06d}", title="mix case"
                )
                await customs.issue_referral(
                    uow,
                    case_id=case_id,
                    to=REGULATOR,
                    kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
                    reason="suspected counterfeit footwear at the port",
                    legal_basis="Decree 395 art. 27",
                    summary="1,200 pairs detained",
                )
        for n in range(first, min(first + CASES_PER_TRANSACTION, cases)):
            if n % WARNING_EVERY == 0:
                async with overseas.unit_of_work() as uow:
                    await overseas.issue_warning(
                        uow,
                        category=WarningCategory.COUNTERFEIT_ROUTE,
                        severity=Severity.MEDIUM,
                        title=f"new transshipment route #{n}",
                        body="counterfeit footwear routed via a free-trade zone",
                        targets=WarningTargets(
                            kinds=[AgencyKind.CUSTOMS, AgencyKind.ENFORCEMENT],
                            regions=["310000"],
                        ),
                        expires_at=datetime.now(UTC) + timedelta(days=30),
                    )
                warnings += 1
        await asyncio.sleep(0)
    return await _settled(bus, cases, warnings)


async def _settled(bus: Bus, cases: int, warnings: int, timeout_s: float = 600.0) -> MixCounts:
    customs, regulator = bus.services[CUSTOMS], bus.services[REGULATOR]
    deadline = time.monotonic() + timeout_s
    while True:
        concluded = await _count(
            regulator, select(func.count()).where(col(ReferralRecord.state) == "concluded")
        )
        acks = 0
        for service in (customs, regulator):
            acks += await _count(
                service,
                select(func.count()).where(col(WarningRecord.acknowledged_at).is_not(None)),
            )
        if concluded >= cases and acks >= 2 * warnings:
            return MixCounts(cases, concluded, warnings, acks)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"mix not settled: {concluded}/{cases} referrals concluded, "
                f"{acks}/{2 * warnings} warning acknowledgements"
            )
        await asyncio.sleep(0.05)


async def _count(service: AgencyService, query: SelectOfScalar[int]) -> int:
    async with service.database.transaction() as session:
        return int((await session.exec(query)).one())
