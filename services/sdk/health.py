"""Liveness, readiness and the gauges refreshed on each scrape, for one service.

Readiness is four facts an operator can act on: NATS connected, database reachable,
durable consumer bound and read by this process, every background loop beating (a loop
is stalled after three intervals without a heartbeat, the consumer loop after its fetch wait
plus a margin without a fetch). Gauges that cost a query (outbox backlog, JetStream consumer
pending) are read when Prometheus scrapes, not on a timer, so an idle bus does no work.
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from contracts.subjects import EVENT_STREAM
from services.runtime.bus import OutboxRecord
from services.sdk.service import AgencyService

__all__ = ["Readiness", "check_readiness", "outbox_backlog", "refresh_service_metrics"]

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Readiness:
    """Each check's verdict: ``None`` when it passed, else what failed."""

    agency: str
    service: str
    nats: str | None
    database: str | None
    consumer: str | None
    loops: str | None = None

    @property
    def ready(self) -> bool:
        return (
            self.nats is None
            and self.database is None
            and self.consumer is None
            and self.loops is None
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "agency": self.agency,
            "service": self.service,
            "ready": self.ready,
            "nats": self.nats or "ok",
            "database": self.database or "ok",
            "consumer": self.consumer or "ok",
            "loops": self.loops or "ok",
        }


async def _failure(check: Awaitable[object]) -> str | None:
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except Exception as exc:
        return (str(exc) or type(exc).__name__)[:200]
    return None


async def _consumers_bound(service: AgencyService) -> None:
    """Each durable consumer the service reads is on the server (the coordinator: one per
    partition)."""
    for reader in service.reading:
        await service.js.consumer_info(EVENT_STREAM, reader.durable)


async def check_readiness(service: AgencyService) -> Readiness:
    """Ask NATS, the database and JetStream; never raises."""
    connection = service.broker._connection
    nats = None if connection is not None and connection.is_connected else "not connected"
    database = await _failure(service.database.ping())
    if nats is not None:
        consumer: str | None = "NATS not connected"
    elif not service._started.is_set():
        consumer = "not started"
    else:
        consumer = await _failure(_consumers_bound(service))
    stalled = service.stalled() if service._started.is_set() else {}
    if consumer is None and "consumer" in stalled:
        consumer = stalled["consumer"]  # bound on the server, but this process reads it no more
    loops = "; ".join(f"{name}: {why}" for name, why in stalled.items() if name != "consumer")
    readiness = Readiness(
        service.agency.id, service.service_name, nats, database, consumer, loops or None
    )
    service.metrics.ready(readiness.ready)
    return readiness


async def outbox_backlog(service: AgencyService, now: datetime) -> tuple[int, float]:
    """How many outbox rows are unsent, and the age in seconds of the oldest."""
    async with service.database.transaction() as session:
        row = (
            await session.exec(
                select(func.count(), func.min(OutboxRecord.created_at)).where(
                    col(OutboxRecord.sent_at).is_(None)
                )
            )
        ).one()
    count, oldest = int(row[0] or 0), row[1]
    if oldest is None:
        return count, 0.0
    if oldest.tzinfo is None and now.tzinfo is not None:
        oldest = oldest.replace(tzinfo=now.tzinfo)  # SQLite drops the zone; stored as UTC
    return count, max(0.0, (now - oldest).total_seconds())


async def refresh_service_metrics(service: AgencyService) -> None:
    """Outbox backlog and consumer state into the gauges, then the service's own hook."""
    metrics = service.metrics
    try:
        backlog, oldest = await asyncio.wait_for(
            outbox_backlog(service, service.clock.now()), CHECK_TIMEOUT_S
        )
        metrics.outbox(backlog, oldest)
    except Exception as exc:
        service.log.warning("outbox gauge not refreshed", error=repr(exc))
    for reader in service.reading:  # the coordinator: one per partition
        try:
            info = await asyncio.wait_for(
                service.js.consumer_info(EVENT_STREAM, reader.durable), CHECK_TIMEOUT_S
            )
            metrics.consumer(
                reader.durable,
                pending=int(info.num_pending or 0),
                ack_pending=int(info.num_ack_pending or 0),
                redelivered=int(info.num_redelivered or 0),
            )
        except Exception as exc:
            service.log.warning(
                "consumer gauge not refreshed", consumer=reader.durable, error=repr(exc)
            )
    try:
        await asyncio.wait_for(service.collect_metrics(), CHECK_TIMEOUT_S)
    except Exception as exc:
        service.log.warning("service gauges not refreshed", error=repr(exc))
