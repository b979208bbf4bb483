"""``Idempotency-Key`` for gateway submissions (IETF httpapi draft of that name).

An agency system retries a submission until it gets an answer; without a key the gateway
cannot tell a retry from a new request, and a submission committed just before a crash is
carried out twice. With a key, the first answer is stored in the SAME transaction as the
outbox rows it caused, with a digest of the request: either both are committed or neither.

* same key, same request → the stored answer again (same event ids, same status), nothing
  carried out, across restarts, for ``retention`` (48 h unless set; the draft asks 24 h);
* same key, another request → 422 ``idempotency-key-reused``;
* same key while the first is still being carried out → 409 ``idempotency-key-in-flight``.

Refusals are not stored: nothing was carried out, so a retry is judged afresh.
"""

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import rfc8785
from fastapi import Header
from sqlalchemy import delete
from sqlmodel import Field, col

from services.gateway.problems import GatewayProblem
from services.runtime.storage import RuntimeTable
from services.sdk import UnitOfWork

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IdempotencyKeyHeader",
    "IdempotencyKeys",
    "IdempotencyRecord",
    "StoredAnswer",
    "request_digest",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 255

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        description="the IETF httpapi draft's key, fresh per request and the same on its "
        "retries: a retry gets the first answer; the same key with another body: 422; "
        "while the first is in flight: 409. Optional unless the gateway requires it (400)",
    ),
]
"""The ``Idempotency-Key`` header parameter of every mutating operation."""


class IdempotencyRecord(RuntimeTable, table=True):
    """The answer a key got, committed with the outbox rows of the submission."""

    __tablename__ = "ipbus_gateway_idempotency"

    key: str = Field(primary_key=True, max_length=KEY_MAX_LENGTH)
    digest: str = Field(max_length=64)
    status: int
    answer: str
    created_at: datetime = Field(index=True)


class StoredAnswer:
    """A previous answer to replay: its status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body


def request_digest(request: Any) -> str:
    """SHA-256 of the request's canonical JSON (RFC 8785): key order and spacing do not count."""
    return hashlib.sha256(rfc8785.dumps(request)).hexdigest()


class IdempotencyKeys:
    """Keys of one gateway: those in flight in this process, and the stored answers."""

    def __init__(self, retention: timedelta = timedelta(hours=48)) -> None:
        self.retention = retention
        self._in_flight: set[str] = set()
        self._pruned_at: datetime | None = None

    @asynccontextmanager
    async def claimed(self, key: str) -> AsyncIterator[None]:
        """Hold ``key`` while its request is carried out; 409 if it already is held."""
        if key in self._in_flight:
            raise GatewayProblem(
                "idempotency-key-in-flight",
                f"a request with Idempotency-Key {key!r} is still being carried out; retry",
                headers={"Retry-After": "1"},
            )
        self._in_flight.add(key)
        try:
            yield
        finally:
            self._in_flight.discard(key)

    async def stored(self, uow: UnitOfWork, key: str, digest: str) -> StoredAnswer | None:
        """The answer ``key`` already got, or None; 422 if it was for another request."""
        row = await uow.session.get(IdempotencyRecord, key)
        if row is None:
            return None
        if row.digest != digest:
            raise GatewayProblem(
                "idempotency-key-reused",
                f"Idempotency-Key {key!r} was used for a different request body",
            )
        return StoredAnswer(row.status, json.loads(row.answer))

    def store(
        self, uow: UnitOfWork, key: str, digest: str, status: int, body: dict[str, Any]
    ) -> None:
        """Keep the answer in ``uow``'s transaction, with the outbox rows it goes with."""
        uow.session.add(
            IdempotencyRecord(
                key=key,
                digest=digest,
                status=status,
                answer=json.dumps(body, separators=(",", ":")),
                created_at=uow.now,
            )
        )

    async def prune(self, uow: UnitOfWork) -> None:
        """Forget keys older than the retention (at most every ten minutes)."""
        now: datetime = uow.now
        if self._pruned_at is not None and now - self._pruned_at < timedelta(minutes=10):
            return
        self._pruned_at = now
        await uow.session.exec(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.created_at) < now - self.retention
            )
        )
