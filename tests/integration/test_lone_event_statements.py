"""At a trickle a batch is one event: what it costs the coordinator in statements (issue 18).

Each statement is a round trip to the database (PostgreSQL) or a hop to SQLite's thread,
so a lone event's latency is mostly their count. Counted here on the real pipeline and
database: a status change of an open case is claimed in the inbox, its case file read in
one statement (case, parties, referrals and judgment lines together), the case row and
its timeline line written, and the audit chain's tail read and extended: six statements.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event as sql_event

from contracts.cases import CaseOpened, CaseStatus, CaseStatusChanged
from contracts.envelope import Event, decode_event, encode_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from services.coordinator.app import CoordinatorService
from services.runtime.identity import Settings
from tests.integration.conftest import StartBus
from tests.integration.wire import signed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CUSTOMS = "customs-shanghai"


def _event(settings: Settings, payload: Any, case_id: str) -> Event:
    envelope = signed(settings, CUSTOMS, payload, case_id=case_id)
    return decode_event(encode_envelope(envelope), publish_subject(envelope, COORDINATOR))


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
    statements: list[str] = []
    mine: list[Any] = []  # this transaction's connection: the service's loops use others

    def count(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn in mine:
            statements.append(" ".join(statement.split()[:4]))

    sql_event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with database.transaction() as session:
            mine.append((await session.connection()).sync_connection)
            (unit,) = await coordinator.pipeline.apply(session, [changed])
    finally:
        sql_event.remove(database.engine.sync_engine, "before_cursor_execute", count)

    assert unit is not None  # applied, not taken for a duplicate
    # PostgreSQL: those six and the audit chain's advisory lock (10 before the case file
    # became one read); SQLite: the six (9 before)
    assert len(statements) == (7 if database.dialect == "postgresql" else 6), statements
    assert "ipbus_inbox" in statements[0]  # the claim comes first: a duplicate costs one
