"""What a batch costs the coordinator in statements (issue 18).

Each statement is a round trip to the database (PostgreSQL) or a hop to SQLite's thread,
so a lone event's latency is mostly their count. Counted here on the real pipeline and
database: a status change of an open case is claimed in the inbox, its case file read in
one statement (case, parties, referrals and judgment lines together), the case row and
its timeline line written, and the audit chain's tail read and extended: six statements.
A batch of referral steps reads its referrals' deadline rows and overdue marks once, not
once per step.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event as sql_event

from contracts.cases import CaseOpened, CaseStatus, CaseStatusChanged
from contracts.envelope import Event, decode_event, encode_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralAcknowledged, ReferralIssued, ReferralKind
from contracts.subjects import COORDINATOR
from services.coordinator.app import CoordinatorService
from services.coordinator.deadlines.store import ReferralClocks
from services.runtime.identity import Settings
from services.runtime.storage import Database
from tests.integration.conftest import StartBus
from tests.integration.wire import signed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"


def _event(
    settings: Settings, payload: Any, case_id: str, sender: str = CUSTOMS, to: str = COORDINATOR
) -> Event:
    envelope = signed(settings, sender, payload, case_id=case_id)
    return decode_event(encode_envelope(envelope), publish_subject(envelope, to))


class Statements:
    """The statements run on the connection of the transactions this counts (the service's
    own loops use other connections)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.seen: list[str] = []
        self._mine: list[Any] = []

    def _count(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn in self._mine:
            self.seen.append(" ".join(statement.split()[:4]))

    async def apply(self, coordinator: CoordinatorService, events: list[Event]) -> list[Any]:
        engine = self.database.engine.sync_engine
        sql_event.listen(engine, "before_cursor_execute", self._count)
        try:
            async with self.database.transaction() as session:
                self._mine.append((await session.connection()).sync_connection)
                return await coordinator.pipeline.apply(session, events)
        finally:
            sql_event.remove(engine, "before_cursor_execute", self._count)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.seen if s.startswith("SELECT") and table in s]


async def test_a_lone_status_change_costs_the_coordinator_few_statements(
    settings: Settings, start_bus: StartBus
) -> None:
    bus = await start_bus(settings, [COORDINATOR])
    coordinator = bus.service_as(COORDINATOR, CoordinatorService)
    database = coordinator.database
    case_id = new_ulid()
    opened = CaseOpened(
        local_ref="SH-CUS-LONE-1",
        title="A lone event",
        ip_rights=[],
        parties=[],
        goods=[],
        opened_at=datetime.now(UTC),
    )
    async with database.transaction() as session:
        await coordinator.pipeline.apply(session, [_event(settings, opened, case_id)])
    changed = _event(
        settings,
        CaseStatusChanged(local_ref="SH-CUS-LONE-1", status=CaseStatus.INVESTIGATING),
        case_id,
    )
    counted = Statements(database)
    (unit,) = await counted.apply(coordinator, [changed])
    statements = counted.seen

    assert unit is not None  # applied, not taken for a duplicate
    # PostgreSQL: those six and the audit chain's advisory lock (10 before the case file
    # became one read); SQLite: the six (9 before)
    assert len(statements) == (7 if database.dialect == "postgresql" else 6), statements
    assert "ipbus_inbox" in statements[0]  # the claim comes first: a duplicate costs one


async def test_a_batch_of_referral_steps_reads_deadlines_and_overdue_marks_once(
    settings: Settings, start_bus: StartBus
) -> None:
    bus = await start_bus(settings, [COORDINATOR])
    coordinator = bus.service_as(COORDINATOR, CoordinatorService)
    cases = [new_ulid() for _ in range(5)]
    referrals = [new_ulid() for _ in cases]
    opened = []
    for n, (case_id, referral_id) in enumerate(zip(cases, referrals, strict=True)):
        case = CaseOpened(
            local_ref=f"SH-CUS-BATCH-{n}",
            title="A batch of referrals",
            ip_rights=[],
            parties=[],
            goods=[],
            opened_at=datetime.now(UTC),
        )
        issued = ReferralIssued(
            referral_id=referral_id,
            case_id=case_id,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="suspected counterfeit footwear at the port",
            legal_basis="Decree 395 art. 27",
            summary="1,200 pairs detained",
        )
        opened += [_event(settings, case, case_id), _event(settings, issued, case_id, to=REGULATOR)]
    issuing = Statements(coordinator.database)
    assert all(unit is not None for unit in await issuing.apply(coordinator, opened))
    acknowledged = [
        _event(
            settings,
            ReferralAcknowledged(referral_id=referral_id, receipt=f"R-{n}"),
            case_id,
            sender=REGULATOR,
            to=CUSTOMS,
        )
        for n, (case_id, referral_id) in enumerate(zip(cases, referrals, strict=True))
    ]
    acknowledging = Statements(coordinator.database)
    assert all(unit is not None for unit in await acknowledging.apply(coordinator, acknowledged))

    for counted in (issuing, acknowledging):  # five referrals, one read of each table
        assert len(counted.reading("coordinator_deadline")) == 1, counted.seen
        assert len(counted.reading("coordinator_overdue_watch")) == 1, counted.seen
    async with coordinator.database.transaction() as session:
        clocks = ReferralClocks(session)
        await clocks.preload(set(referrals))
        for referral_id in referrals:  # acknowledge met, decide running
            stages = {stage: row.status for stage, row in (await clocks.of(referral_id)).items()}
            assert stages == {"acknowledge": "met", "decide": "pending"}
