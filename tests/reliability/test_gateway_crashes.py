"""Issue 21's done-when: an agency system retrying through the gateway while the gateway's
service and the coordinator are killed -9 gets every submission onto the shared timeline
exactly once.

Customs (``ipbus run customs --gateway-port P``) and the coordinator run as separate
processes on a nats-server of the test's own. Workers open cases and move them through
status changes, each submission with a fresh ``Idempotency-Key``, retrying the SAME key and
body until they get a 202; meanwhile a killer kills -9 and restarts one or both processes.
At the end every accepted event id must be on the coordinator's timeline, and the timeline
must hold exactly one event from customs per submission (a submission carried out twice
would show as a second event with another id).
"""

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from contracts.cases import CaseOpened, CaseStatus
from contracts.identifiers import new_ulid
from services.coordinator.cases.store import TimelineRecord
from services.runtime.identity import Settings, prepare_registry
from services.runtime.server import free_port
from services.runtime.storage import Database, database_url_for
from tests.integration.wire import wait_until
from tests.reliability.fleet import BIN, Fleet, ServiceProcess, environment

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(600)]

CUSTOMS, COORDINATOR = "customs-shanghai", "coordinator"
WORKERS = 8
CASES_PER_WORKER = 25
CHANGES_PER_CASE = 9
"""8 × 25 × (1 + 9) = 2000 submissions."""
STATUSES = (CaseStatus.INVESTIGATING, CaseStatus.PENALIZED, CaseStatus.FILED)


@dataclass
class Tally:
    submissions: int = 0
    retries: int = 0
    retried: int = 0
    in_flight: int = 0
    replayed: int = 0
    """Retries answered from the stored answer: committed before, answer lost in the kill."""


async def _submit(
    client: httpx.AsyncClient, body: dict[str, Any], tally: Tally, accepted: list[str]
) -> None:
    """POST until a 202; every try carries the same key and the same body."""
    key = str(uuid.uuid4())
    tries = 0
    while True:
        tries += 1
        try:
            answer = await client.post("/events", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code == 202:
            break
        if answer is not None and answer.status_code == 409:
            tally.in_flight += answer.json()["type"].endswith("idempotency-key-in-flight")
        if answer is not None and answer.status_code not in (409, 429, 500, 502, 503):
            raise AssertionError(f"refused: {answer.status_code} {answer.text}")
        assert tries < 2000, f"no answer for {body['type']} after {tries} tries"
        await asyncio.sleep(0.1 + random.random() * 0.2)
    tally.submissions += 1
    tally.retries += tries - 1
    tally.retried += tries > 1
    tally.replayed += answer.headers.get("Idempotent-Replayed") == "true"
    accepted.append(answer.json()["id"])


async def _worker(url: str, tally: Tally, accepted: list[str], cases: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        for n in range(CASES_PER_WORKER):
            case_id = new_ulid()
            cases.append(case_id)
            local_ref = f"GW-{case_id[-8:]}"
            opened = CaseOpened(
                local_ref=local_ref,
                title=f"counterfeit shipment {n}",
                ip_rights=[],
                parties=[],
                goods=[],
                opened_at=datetime.now(UTC),
            )
            opening: dict[str, Any] = {"type": "case.opened", "case_id": case_id}
            opening["data"] = opened.model_dump(mode="json")
            await _submit(client, opening, tally, accepted)
            for step in range(CHANGES_PER_CASE):
                change = {
                    "local_ref": local_ref,
                    "status": STATUSES[step % len(STATUSES)].value,
                    "note": f"step {step}",
                }
                body: dict[str, Any] = {"type": "case.status_changed", "case_id": case_id}
                body["data"] = change
                await _submit(client, body, tally, accepted)


async def _killer(
    processes: list[ServiceProcess],
    done: asyncio.Event,
    kills: Counter[str],
    accepted: list[str],
) -> None:
    """Kill -9 one process (now and then both) and start it again, each time after the
    workers got 15 to 45 more submissions accepted: kills follow progress, not the clock,
    so a loaded machine that restarts slowly is not killed before it can serve."""
    while not done.is_set():
        target = len(accepted) + random.randint(15, 45)

        async def progressed(target: int = target) -> bool:
            return len(accepted) >= target or done.is_set()

        await wait_until(progressed, timeout_s=300, what=f"{target} submissions accepted")
        if done.is_set():
            break
        await asyncio.sleep(random.random() * 0.3)  # anywhere in a request's life
        victims = processes if random.random() < 0.2 else [random.choice(processes)]
        for victim in victims:
            victim.kill()
            kills[victim.name] += 1
        await asyncio.sleep(random.random() * 0.8)
        for victim in victims:
            victim.start()


async def _timeline(settings: Settings) -> list[TimelineRecord]:
    database = Database(
        database_url_for(settings.database_url, settings.data_dir, COORDINATOR),
        namespace=settings.database_schema_prefix + COORDINATOR,
    )
    try:
        async with database.transaction() as session:
            return list(
                (
                    await session.exec(
                        select(TimelineRecord).where(col(TimelineRecord.sender) == CUSTOMS)
                    )
                ).all()
            )
    finally:
        await database.close()


@pytest.mark.parametrize("database_url", [None], indirect=False)
async def test_no_submission_is_lost_or_carried_out_twice_through_kill_9s(
    scenario_settings: Settings, own_nats_url: str, tmp_path: Path
) -> None:
    settings = scenario_settings
    prepare_registry(settings.registry_path, settings.keys_dir, settings.effective_registry_path)
    fleet = Fleet(settings, own_nats_url)
    coordinator = fleet.service("coordinator", COORDINATOR)
    port = free_port()
    env = environment(settings, own_nats_url) | {
        "IPBUS_GATEWAY_REQUIRE_IDEMPOTENCY_KEY": "true",
        "IPBUS_GATEWAY_RATE_LIMIT": "100000/minute",
    }
    args = [str(BIN / "ipbus"), "run", "customs", "--agency", CUSTOMS]
    customs = ServiceProcess(
        CUSTOMS,
        [*args, "--gateway-port", str(port)],
        env,
        settings.data_dir / "logs" / f"{CUSTOMS}.log",
    )
    fleet.processes[CUSTOMS] = customs
    fleet.start_all()
    tally, accepted, cases = Tally(), list[str](), list[str]()
    kills: Counter[str] = Counter()
    done = asyncio.Event()
    try:
        killer = asyncio.create_task(_killer([customs, coordinator], done, kills, accepted))
        url = f"http://127.0.0.1:{port}"
        try:
            await asyncio.gather(*(_worker(url, tally, accepted, cases) for _ in range(WORKERS)))
        finally:
            done.set()
            await killer
        for process in (customs, coordinator):  # the last kill may have left one down
            if process.exited:
                process.start()
        expected = set(accepted)
        deadline = asyncio.get_running_loop().time() + 240
        while asyncio.get_running_loop().time() < deadline:
            on_timeline = {row.event_id for row in await _timeline(settings)}
            if expected <= on_timeline:
                break
            fleet.check_alive()
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # a second copy, were there one, would come in meanwhile
    finally:
        fleet.stop_all()
    rows = await _timeline(settings)
    per_event = Counter(row.event_id for row in rows)
    lost = expected - set(per_event)
    extra = set(per_event) - expected
    print(
        f"\ngateway under kill -9: {tally.submissions} submissions accepted, "
        f"{tally.retries} retries ({tally.retried} submissions retried, {tally.replayed} "
        f"answered from the stored answer, {tally.in_flight} times 409 in flight), "
        f"kills: {dict(kills)}, "
        f"timeline rows from customs: {len(rows)}"
    )
    assert tally.submissions == WORKERS * CASES_PER_WORKER * (1 + CHANGES_PER_CASE)
    assert len(expected) == tally.submissions, "two submissions got the same event id"
    assert not lost, f"{len(lost)} accepted submissions never reached the timeline"
    assert not extra, f"{len(extra)} events on the timeline nobody was told about (twice)"
    assert max(per_event.values()) == 1
    assert len(rows) == tally.submissions
    assert sum(kills.values()) >= 15, f"too few kills to mean anything: {dict(kills)}"
