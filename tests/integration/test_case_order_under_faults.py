"""A case's events keep their order when one of them cannot be applied at once (issue 18).

Found by the reliability test on PostgreSQL (kill -9 under load, failed in CI): two of
the coordinator's partitions applied their batches at once and deadlocked on two parties'
turns, taken in opposite orders. PostgreSQL rolled one batch back; the batch was applied
again one event per transaction, the case.opened first in it deadlocked again and was
retried later, and the events of its case behind it in the batch went on without it, so
they were dead-lettered as ``not_a_party`` ("case is not open") and the case was lost.

Two rules close it, each shown here on the real server and database:

* a transaction PostgreSQL rolls back for a concurrent one is run again at once
  (:meth:`services.runtime.storage.Database.write`);
* an event to be redelivered holds back the events of its case behind it in the batch.
"""

import asyncio
from typing import Any

import nats
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from structlog.testing import capture_logs

from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.envelope import publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, DLQ_STREAM
from services.coordinator.pipeline import CasePipeline
from services.runtime.identity import Settings
from services.runtime.storage import Database, take_turns
from services.sdk import query_case
from tests.integration.conftest import StartBus
from tests.integration.test_dead_letters import SENDER, _opened
from tests.integration.wire import publish, signed, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_an_event_behind_its_cases_failed_event_waits_for_it_and_is_applied_after(
    settings: Settings, start_bus: StartBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures: list[str] = []
    apply_one = CasePipeline._apply_one

    async def failing_twice(self: CasePipeline, *args: Any) -> Any:
        event = args[2]
        if event.id in failures:
            failures.remove(event.id)
            raise RuntimeError("injected: a passing fault in the middle of the case.opened")
        return await apply_one(self, *args)

    monkeypatch.setattr(CasePipeline, "_apply_one", failing_twice)
    bus = await start_bus(settings, [COORDINATOR])
    await bus.services[COORDINATOR].stop()  # both events wait, then come in one fetch
    case_id = new_ulid()
    opened = signed(settings, SENDER, _opened(), case_id=case_id)
    changed = signed(
        settings,
        SENDER,
        CaseStatusChanged(local_ref="SH-CUS-T-1", status=CaseStatus.INVESTIGATING),
        case_id=case_id,
    )
    # the case.opened fails in the batch, then alone (as the deadlocked one did): it is
    # redelivered, and the status change behind it in the batch must wait for it
    failures.extend([opened.id, opened.id])
    nc = await nats.connect(bus.nats_url)
    try:
        for envelope in (opened, changed):
            await publish(nc, publish_subject(envelope, COORDINATOR), envelope)
        with capture_logs() as logged:
            await bus.start_service(COORDINATOR)

            async def changed_applied() -> bool:
                reply = await query_case(nc, requester=SENDER, case_id=case_id)
                return reply.case is not None and reply.case.status is CaseStatus.INVESTIGATING

            await wait_until(changed_applied, timeout_s=30, what="the status change")
        reply = await query_case(nc, requester=SENDER, case_id=case_id)
        assert reply.case is not None
        assert [e.event_id for e in reply.case.timeline] == [opened.id, changed.id]
        assert failures == []  # both injected faults were met
        held = [line for line in logged if line["event"].startswith("held back behind")]
        assert [line["event_id"] for line in held] == [changed.id]
        assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    finally:
        await nc.close()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_transaction_rolled_back_for_a_deadlock_is_run_again_and_both_commit(
    database: Database,
) -> None:
    """Two writers take two turns in opposite orders, each holding its first until the
    other holds its own: PostgreSQL aborts one, :meth:`Database.write` runs it again."""
    both_hold_one = asyncio.Barrier(2)
    runs: list[str] = []
    conflicts: list[int] = []

    def writer(first: str, second: str) -> Any:
        async def work(session: AsyncSession) -> str:
            runs.append(first)
            await take_turns(session, first)
            if len(runs) <= 2:  # the first run of each: meet in the middle
                await asyncio.wait_for(both_hold_one.wait(), 5)
            await take_turns(session, second)
            return first

        return work

    done = await asyncio.gather(
        database.write(writer("party:A", "party:B"), on_conflict=lambda n, _: conflicts.append(n)),
        database.write(writer("party:B", "party:A"), on_conflict=lambda n, _: conflicts.append(n)),
    )
    assert list(done) == ["party:A", "party:B"]
    assert conflicts == [1]  # exactly one was the deadlock's victim, and ran again
    assert len(runs) == 3


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_transaction_that_keeps_deadlocking_fails_after_its_attempts(
    database: Database,
) -> None:
    both_hold_one = asyncio.Barrier(2)

    def writer(first: str, second: str) -> Any:
        async def work(session: AsyncSession) -> None:
            await take_turns(session, first)
            await asyncio.wait_for(both_hold_one.wait(), 5)
            await take_turns(session, second)

        return work

    outcomes = await asyncio.gather(
        database.write(writer("party:A", "party:B"), attempts=1),
        database.write(writer("party:B", "party:A"), attempts=1),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failed) == 1, outcomes
    assert "deadlock detected" in str(failed[0])
