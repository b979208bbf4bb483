"""The coordinator as its own OS process, as a deployment runs it, and how to watch it.

Its memory is its own (RSS from ``/proc``); its progress is its durable consumer's count of
what is still pending; when it committed each event is the time of its "applied" log line
(``processed_at`` of the inbox row is when it claimed it, earlier in the same transaction).
"""

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nats
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlmodel import col, select

from contracts.subjects import COORDINATOR, EVENT_STREAM
from services.runtime.bus import (
    COORDINATOR_CONSUMER,
    InboxRecord,
    coordinator_backlog,
    coordinator_durables,
)
from services.runtime.identity import Settings
from services.runtime.storage import Database, database_url_for

__all__ = [
    "CoordinatorProcess",
    "applied_at",
    "bench_policy",
    "committed_at",
    "consumers_drained",
    "drained",
    "pending",
    "rss_mb",
    "vacuum_analyze",
]

POLL_S = 0.05
QUERIES_PER_MINUTE = 1_000_000
"""The bench asks its 1,000 case queries back to back: far above the policy's per-agency
rate limit (``[queries]``), which it measures nothing of."""


def bench_policy(root: Path, source: Path = Path("deploy/policy.toml")) -> Path:
    """The deployed policy with the query rate limit lifted, written under ``root``."""
    text = source.read_text(encoding="utf-8")
    for name in ("per_requester_per_minute", "burst"):
        text, found = re.subn(
            rf"^{name}\s*=.*$", f"{name} = {QUERIES_PER_MINUTE}", text, count=1, flags=re.M
        )
        if not found:
            raise ValueError(f"{source} has no [queries] {name}")
    path = root / "bench-policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


class CoordinatorProcess:
    """``ipbus run coordinator`` with ``settings`` in its environment, logging to a file."""

    def __init__(self, settings: Settings, nats_url: str, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
        env.update(
            IPBUS_NATS_URL=nats_url,
            IPBUS_DATA_DIR=str(settings.data_dir),
            IPBUS_REGISTRY_PATH=str(settings.registry_path),
            IPBUS_DATABASE_SCHEMA_PREFIX=settings.database_schema_prefix,
            IPBUS_LOG_FORMAT="json",
            IPBUS_LOG_LEVEL="INFO",  # the production default: a line per applied event
            IPBUS_HTTP_PORT="0",
            IPBUS_POLICY_PATH=str(settings.policy_path),
        )
        if settings.database_url:
            env["IPBUS_DATABASE_URL"] = settings.database_url
        self._env = env
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "ipbus"), "run", "coordinator"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def ready(self, js: JetStreamContext, timeout_s: float = 60.0) -> None:
        """Wait until it has bound its consumer (its first fetch is waiting)."""
        for _ in range(int(timeout_s / POLL_S)):
            if self.process is not None and self.process.poll() is not None:
                tail = self._log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the coordinator exited:\n{tail}")
            try:  # every partition's consumer bound, its first fetch waiting
                infos = [
                    await js.consumer_info(EVENT_STREAM, durable)
                    for durable in await coordinator_durables(js)
                ]
            except nats.js.errors.NotFoundError:
                infos = []
            if infos and all(info.num_waiting for info in infos):
                return
            await asyncio.sleep(POLL_S)
        raise TimeoutError(f"coordinator not ready; see {self._log}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def pending(js: JetStreamContext) -> int:
    """Events the coordinator has not yet applied and acknowledged (every partition)."""
    return await coordinator_backlog(js)


async def drained(js: JetStreamContext) -> None:
    """Poll until the coordinator has applied and acknowledged everything in the stream."""
    while True:
        if await pending(js) == 0:
            return
        await asyncio.sleep(POLL_S)


async def consumers_drained(js: JetStreamContext, durables: list[str]) -> None:
    """Poll until every named consumer of the event stream has nothing pending or unacked."""
    while True:
        infos = [await js.consumer_info(EVENT_STREAM, durable) for durable in durables]
        if all(info.num_pending + info.num_ack_pending == 0 for info in infos):
            return
        await asyncio.sleep(POLL_S)


async def vacuum_analyze(settings: Settings) -> None:
    """What autovacuum does on a production server (it is off on some test servers):
    reclaim the case rows every event rewrites, refresh the planner's statistics."""
    if not settings.database_url:
        return
    database = _coordinator_database(settings)
    try:
        async with database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f'VACUUM (ANALYZE) "{database.schema}".coordinator_case'))
            for table in _VACUUMED:
                await autocommit.execute(text(f'ANALYZE "{database.schema}".{table}'))
    finally:
        await database.close()


_VACUUMED = (
    "coordinator_case_party",
    "coordinator_referral",
    "coordinator_timeline",
    "coordinator_audit",
    "ipbus_inbox",
)


def _coordinator_database(settings: Settings) -> Database:
    return Database(
        database_url_for(settings.database_url, settings.data_dir, COORDINATOR),
        namespace=settings.database_schema_prefix + COORDINATOR,
    )


def committed_at(logs: list[Path], event_ids: list[str]) -> dict[str, datetime]:
    """When a coordinator committed each event: the time of the "applied" line it writes
    after the batch's transaction committed and before it acks (one line per batch, with
    every event id; ``services/sdk/service.py`` ``_log_applied``)."""
    wanted = set(event_ids)
    found: dict[str, datetime] = {}
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if '"applied"' not in line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("event") != "applied":
                continue
            at = datetime.fromisoformat(entry["timestamp"])
            ids = entry.get("event_ids") or [entry.get("event_id")]
            found.update({i: at for i in ids if i in wanted})
    return found


async def applied_at(settings: Settings, event_ids: list[str]) -> dict[str, datetime]:
    """When the coordinator claimed each event in the transaction that applied it."""
    database = _coordinator_database(settings)
    found: dict[str, datetime] = {}
    try:
        async with database.transaction() as session:
            for first in range(0, len(event_ids), 500):
                rows = await session.exec(
                    select(InboxRecord.event_id, InboxRecord.processed_at).where(
                        InboxRecord.consumer == COORDINATOR_CONSUMER,
                        col(InboxRecord.event_id).in_(event_ids[first : first + 500]),
                    )
                )
                found.update({event_id: at for event_id, at in rows})
    finally:
        await database.close()
    return found
