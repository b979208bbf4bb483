"""What every part of the demo scenario shares: the bus, the timeline watcher, waiting.

The demo plays the agencies' own systems, calling their adapters as an officer's
application would, and watches the coordinator's shared timeline as any party could.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from nats.aio.client import Client

from contracts.agencies import IpType
from contracts.cases import IpRight, Party, PartyKind, PartyRole
from contracts.identifiers import Money, new_ulid
from contracts.queries import CaseView
from contracts.subjects import COORDINATOR
from services.cli.render import timeline_line
from services.customs.app import CustomsService
from services.customs.confirmation_store import clocks_of
from services.customs.domain import Detention
from services.runtime.bus import RetryableError
from services.sdk import AgencyService, Bus, ReferralRecord, query_case

__all__ = [
    "STEP_TIMEOUT_S",
    "DemoFailed",
    "Say",
    "Stage",
    "TimelineWatcher",
    "detention",
    "eventually",
    "pause",
    "running",
    "service",
    "until",
]

STEP_TIMEOUT_S = 15.0

ServiceT = TypeVar("ServiceT", bound=AgencyService)
T = TypeVar("T")
Say = Callable[[str], None]


class DemoFailed(RuntimeError):
    """An expectation of the scenario did not hold; the message says which."""


def service(bus: Bus, agency_id: str, cls: type[ServiceT]) -> ServiceT:
    try:
        return bus.service_as(agency_id, cls)
    except LookupError as exc:
        raise DemoFailed(str(exc)) from exc


async def running(bus: Bus, agency_id: str, cls: type[ServiceT]) -> ServiceT:
    """``agency_id``'s service as a ``cls``, started first if the bus does not run it yet."""
    if agency_id not in bus.services:
        await bus.start_service(agency_id)
    return service(bus, agency_id, cls)


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    what: str | Callable[[], str],
    *,
    timeout_s: float = STEP_TIMEOUT_S,
) -> T:
    """What ``probe`` finds, polled until it is not None; :class:`DemoFailed` after
    ``timeout_s`` (``what``: what was awaited, or a function saying so at the time).
    A query nobody answered yet (:class:`RetryableError`) counts as nothing found."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            found = await probe()
        except RetryableError:
            found = None
        if found is not None:
            return found
        if asyncio.get_running_loop().time() > deadline:
            awaited = what if isinstance(what, str) else what()
            raise DemoFailed(f"{awaited} did not happen within {timeout_s:.0f}s")
        await asyncio.sleep(0.05)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds (:func:`eventually` for a yes/no question)."""

    async def holds() -> bool | None:
        return True if await check() else None

    await eventually(holds, what)


async def pause(pace: float) -> None:
    await asyncio.sleep(pace)


class TimelineWatcher:
    """Polls the coordinator as the coordinator would show it, printing new entries."""

    def __init__(self, nc: Client, say: Say) -> None:
        self._nc = nc
        self._say = say
        self._printed: set[str] = set()

    async def wait_for(self, case_id: str, event_type: str, *, count: int = 1) -> CaseView:
        async def shown() -> CaseView | None:
            view = await self._poll(case_id)
            if view is None or sum(e.event_type == event_type for e in view.timeline) < count:
                return None
            return view

        return await eventually(
            shown, f"the shared timeline of case {case_id} showing {event_type} ×{count}"
        )

    async def show(self, case_id: str) -> None:
        """Print what is new on the case's timeline, without waiting for anything."""
        await self._poll(case_id)

    async def _poll(self, case_id: str) -> CaseView | None:
        try:
            reply = await query_case(self._nc, requester=COORDINATOR, case_id=case_id)
        except RetryableError:
            return None
        if reply.case is None:
            return None
        for entry in reply.case.timeline:
            if entry.event_id not in self._printed:
                self._printed.add(entry.event_id)
                self._say(timeline_line(entry))
        return reply.case


@dataclass(frozen=True, slots=True)
class Stage:
    """The running bus, a NATS connection of the demo's own, and the timeline watcher."""

    bus: Bus
    nc: Client
    watch: TimelineWatcher

    async def ledger(
        self,
        agency: AgencyService,
        referral_id: str,
        state: str,
        *,
        timeout_s: float = STEP_TIMEOUT_S,
    ) -> ReferralRecord:
        """Wait until ``agency``'s own ledger has the referral in ``state``."""
        seen = "no record"

        async def recorded() -> ReferralRecord | None:
            nonlocal seen
            async with agency.database.transaction() as session:
                record = await session.get(ReferralRecord, referral_id)
            seen = record.state if record else "no record"
            return record if record is not None and record.state == state else None

        record = await eventually(
            recorded,
            lambda: (
                f"{agency.agency.id}'s ledger showing referral {referral_id} as {state} "
                f"(it shows {seen})"
            ),
            timeout_s=timeout_s,
        )
        await self.watch.show(record.case_id)
        return record


def detention(
    *,
    description: str = "sports shoes bearing the STRIDE mark",
    hs_code: str = "640411",
    quantity: int = 1200,
    value: str = "360000.00",
    perishable: bool = False,
) -> Detention:
    """A detention of goods bearing the STRIDE mark, consigned to Haixin Trading."""
    right = IpRight(
        type=IpType.TRADEMARK,
        registration_no="G1234567",
        holder="Stride Athletic Co., Ltd.",
        description="STRIDE word and device mark, class 25",
    )
    consignee = Party(
        kind=PartyKind.LEGAL_PERSON,
        role=PartyRole.CONSIGNEE,
        name="Haixin Trading Co., Ltd.",
        credit_code="91350100M000100Y43",
    )
    return Detention(
        local_ref=f"SH-CUS-2026-{new_ulid()[-6:]}",
        port="Yangshan Port, Shanghai",
        hs_code=hs_code,
        description=description,
        quantity=quantity,
        declared_value=Money(value=Decimal(value), currency="CNY"),
        ip_right=right,
        rights_holder="Stride Athletic Co., Ltd.",
        parties=(consignee,),
        perishable=perishable,
    )


async def say_release_clock(customs: CustomsService, detention_id: str, say: Say) -> None:
    """Print the detention's customs clocks: due when, under which rule version."""
    async with customs.database.transaction() as session:
        clocks = await clocks_of(session, detention_id)
    for clock in sorted(clocks, key=lambda c: c.clock):
        due = f"{clock.due_at:%Y-%m-%d %H:%M} UTC" if clock.due_at else "not computable"
        say(f"   {clock.clock}: {clock.period}, due {due} [{clock.rule_version}] {clock.status}")
        if clock.problem:
            say(f"     ({clock.problem})")
