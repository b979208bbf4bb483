"""Work across cases when two partitions apply at once (issue 18), on PostgreSQL.

The coordinator applies its partitions concurrently, each in its own transaction. A party
named in cases of two partitions is the case the repeat-infringer rule is about: both
transactions index their sighting and count the party's cases. Without a turn on the
party, each counts the sightings committed before it plus its own, both cross the
threshold and both raise the warning; the signal table's key then fails the second at
commit (measured: the batch is refused whole and applied again, one event at a time).
With the turn, the second counts after the first committed and raises nothing. Here the
two transactions are held open against each other on purpose, which the reliability test
(two coordinators, four partitions, one killed) only meets by chance.
SQLite has one writer at a time, so this is PostgreSQL's question only.
"""

import asyncio
from datetime import UTC, datetime

import pytest

from contracts.agencies import WarningCategory
from contracts.cases import CaseOpened, Party, PartyKind
from contracts.envelope import Event, decode_event, encode_envelope, publish_subject
from contracts.events import cloudevent_type
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from contracts.warnings import WarningIssued
from services.coordinator.app import CoordinatorService
from services.coordinator.signals.rules import INFRINGER_ROLES
from services.runtime.identity import Settings
from services.sdk import UnitOfWork
from tests.integration.conftest import StartBus
from tests.integration.wire import signed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

COMPANY = "91440000700000000E"
CUSTOMS = "customs-shanghai"
HELD_S = 0.5
"""How long the first transaction stays open while the second one runs against it."""


def _opened(settings: Settings, number: int) -> Event:
    """A case.opened naming the company as a suspect, as the coordinator reads it."""
    opened = CaseOpened(
        local_ref=f"SH-CUS-TURNS-{number}",
        title=f"Turns case {number}",
        ip_rights=[],
        goods=[],
        opened_at=datetime.now(UTC),
        parties=[
            Party(
                kind=PartyKind.LEGAL_PERSON,
                role=min(INFRINGER_ROLES),
                name="Turns Trading Co.",
                credit_code=COMPANY,
            )
        ],
    )
    envelope = signed(settings, CUSTOMS, opened, case_id=new_ulid())
    return decode_event(encode_envelope(envelope), publish_subject(envelope, COORDINATOR))


def _repeat_infringer_warnings(uow: UnitOfWork) -> int:
    """The repeat-infringer warnings the coordinator emitted in this unit of work."""
    return sum(
        1
        for emitted in uow.emitted
        if emitted.type == cloudevent_type(WarningIssued.event_type)
        and emitted.data["category"] == WarningCategory.REPEAT_INFRINGER.value
    )


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_partitions_naming_one_party_at_once_warn_about_it_once(
    settings: Settings, start_bus: StartBus
) -> None:
    bus = await start_bus(settings, [COORDINATOR, CUSTOMS])
    coordinator = bus.service_as(COORDINATOR, CoordinatorService)
    signals = coordinator.pipeline.signals
    database = coordinator.database
    # two cases already name the company: the policy's threshold is three
    for number in range(2):
        event = _opened(settings, number)
        async with database.transaction() as session:
            await signals.observe_linkage(
                UnitOfWork(session, coordinator.context, event), event, event.case_id or ""
            )

    third, fourth = _opened(settings, 3), _opened(settings, 4)
    first_open, first_done = asyncio.Event(), asyncio.Event()
    units: dict[str, UnitOfWork] = {}

    async def first_partition() -> None:
        async with database.transaction() as session:
            uow = units["third"] = UnitOfWork(session, coordinator.context, third)
            await signals.observe_linkage(uow, third, third.case_id or "")
            first_open.set()
            await asyncio.sleep(HELD_S)  # a long batch, not yet committed
        first_done.set()

    async def second_partition() -> bool:
        """Whether the first had committed before this one counted the party's cases."""
        await first_open.wait()
        async with database.transaction() as session:
            uow = units["fourth"] = UnitOfWork(session, coordinator.context, fourth)
            await signals.observe_linkage(uow, fourth, fourth.case_id or "")
            return first_done.is_set()

    _, waited = await asyncio.gather(first_partition(), second_partition())
    assert waited, "the second partition counted the party's cases while the first held them"
    raised = {name: _repeat_infringer_warnings(uow) for name, uow in units.items()}
    assert raised == {"third": 1, "fourth": 0}, raised
