"""The agency-side HTTP gateway: the bus as an agency's own systems see it.

Like an X-Road security server, it runs next to one adapter, inside the agency: the agency's
case-management system submits events over plain HTTP+JSON and the gateway validates them
against :mod:`contracts`, signs them with the agency's key and puts them in the outbox; it
reads the agency's inbox and asks the coordinator about cases the agency is party to.

:func:`gateway_router` returns a FastAPI ``APIRouter`` that any FastAPI app can mount;
:mod:`services.gateway.server` serves it alone on a port.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> # app.include_router(gateway_router(service))   # service: a started AgencyService
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import APIRouter, Body, Depends, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from contracts.agencies import UnknownAgency
from contracts.events import cloudevent_type
from contracts.identifiers import is_ulid
from contracts.queries import CaseView
from services.gateway.evidence import add_evidence_routes
from services.gateway.guard import DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_LIMIT, RateLimit
from services.gateway.idempotency import (
    IDEMPOTENCY_HEADER,
    IdempotencyKeyHeader,
    IdempotencyKeys,
    request_digest,
)
from services.gateway.inbox import (
    InboxAcknowledgement,
    InboxItem,
    InboxSource,
    ItemAcknowledgement,
    ReferralInbox,
    item_ref,
    positioned,
)
from services.gateway.problems import GatewayProblem, Problem
from services.gateway.submit import Submission, SubmissionRefused, carry_out
from services.gateway.tokens import ALL_SCOPES, GatewayTokens, Scope, TokenEntry, digest
from services.gateway.warnings import WarningInbox
from services.gateway.webhooks import add_webhook_routes
from services.runtime.bus import RetryableError, StepRefused
from services.runtime.ops import get_logger
from services.sdk import AgencyService, ReferralDesk, WarningDesk, query_case

__all__ = [
    "Accepted",
    "Problem",
    "accepted_tokens_of",
    "bearer_token_check",
    "default_inbox_sources",
    "gateway_router",
]

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
REPLAYED_HEADER = "Idempotent-Replayed"
"""On an answer given again for an ``Idempotency-Key`` (nothing was carried out this time)."""
ANONYMOUS = "anonymous"
SHARED_TOKEN = "gateway-token"
"""The name of ``IPBUS_GATEWAY_TOKEN`` in logs and limits."""
LONG_POLL_S = 0.5
"""How often a long-polling ``GET /inbox`` looks again."""
"""The client name of requests to a gateway without a token (loopback only)."""


class Accepted(BaseModel):
    """The event was signed and committed to the outbox; it is published right after."""

    id: str
    type: str
    subject: str | None
    emitted: list[str]


@runtime_checkable
class ProvidesInbox(Protocol):
    """A service with inbox kinds of its own (the gateway lists them beside the standard)."""

    def inbox_sources(self) -> Sequence[InboxSource]: ...


def default_inbox_sources(service: AgencyService) -> list[InboxSource]:
    """The inbox sources every adapter of this shape has (referrals for a referral desk)."""
    sources: list[InboxSource] = []
    if isinstance(service, ReferralDesk):
        sources.append(ReferralInbox())
    if isinstance(service, WarningDesk):
        sources.append(WarningInbox(service))
    if isinstance(service, ProvidesInbox):  # e.g. a rights-holder desk's notices
        sources.extend(service.inbox_sources())
    return sources


def _refuse(code: int, detail: str) -> GatewayProblem:
    slug = {404: "not-found", 409: "step-refused", 503: "unavailable"}[code]
    headers = {"Retry-After": "1"} if code == 503 else None
    return GatewayProblem(slug, detail, headers)


def _invalid(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's own shape: ``loc`` names the field, ``msg`` says what is wrong."""
    loc = ["body", *field.split(".")]
    return RequestValidationError([{"loc": loc, "msg": f"{field}: {message}", "type": kind}])


def bearer_token_check(tokens: GatewayTokens | str) -> Callable[..., Awaitable[TokenEntry]]:
    """A dependency refusing (401) any request without ``Authorization: Bearer <token>`` of
    one of ``tokens`` (a single token is named ``gateway-token``, with every scope); it
    gives the token's entry, whose name is logged and limited, never its value."""
    if isinstance(tokens, str):
        tokens = GatewayTokens.from_entries([TokenEntry(SHARED_TOKEN, digest(tokens), ALL_SCOPES)])
    known = tokens
    scheme = HTTPBearer(auto_error=False, description="the agency system's gateway token")

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> TokenEntry:
        entry = known.named(credentials.credentials) if credentials is not None else None
        if entry is None:
            raise GatewayProblem(
                "unauthorized",
                "a valid gateway token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return entry

    return check


async def _anonymous() -> TokenEntry:
    return TokenEntry(ANONYMOUS, "", ALL_SCOPES)


def accepted_tokens_of(token: str | None, tokens: GatewayTokens | None) -> GatewayTokens | None:
    """The shared token (every scope) and the named ones, or None: an open gateway."""
    if token is None:
        return tokens
    shared = TokenEntry(SHARED_TOKEN, digest(token), ALL_SCOPES)
    if tokens is None:
        return GatewayTokens.from_entries([shared])
    return GatewayTokens(tokens.path, [*tokens.extra, shared])


def gateway_router(
    service: AgencyService,
    *,
    inbox_sources: Sequence[InboxSource] | None = None,
    prefix: str = "",
    token: str | None = None,
    tokens: GatewayTokens | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    rate_limit: str = DEFAULT_RATE_LIMIT,
    require_idempotency_key: bool = False,
    idempotency_retention: timedelta = timedelta(hours=48),
    evidence_max_bytes: int = 1024**3,
) -> APIRouter:
    """The HTTP API of one agency's gateway, bound to its (started) ``service``.

    With ``token`` or ``tokens`` (named, hashed, scoped: :mod:`gateway_tokens`), every
    operation needs ``Authorization: Bearer <token>`` (401 otherwise; 403 without the
    operation's scope): only the agency's own systems may act as the agency. Each token
    gets ``rate_limit`` requests (429 past it). ``max_body_bytes`` is documented here
    (413); the app enforces it (:class:`~services.gateway.guard.BodyLimit`).
    With ``require_idempotency_key`` every mutating request needs an ``Idempotency-Key``
    (400 without). Evidence uploads are limited by ``evidence_max_bytes`` instead.
    """
    sources = {s.kind: s for s in (inbox_sources or default_inbox_sources(service))}
    agency_id = service.agency.id
    accepted_tokens = accepted_tokens_of(token, tokens)
    authenticate = bearer_token_check(accepted_tokens) if accepted_tokens else _anonymous
    limit = RateLimit(rate_limit)
    keys = IdempotencyKeys(idempotency_retention)
    log = get_logger("gateway", agency_id)

    def client(scope: Scope) -> Callable[..., Awaitable[str]]:
        async def allowed(
            request: Request, entry: Annotated[TokenEntry, Depends(authenticate)]
        ) -> str:
            log.info(
                "gateway request",
                client=entry.name,
                method=request.method,
                path=request.url.path,
            )
            if scope.value not in entry.scopes:
                raise GatewayProblem(
                    "forbidden", f"the token of {entry.name} does not have scope {scope.value}"
                )
            await limit.hit(entry.name)
            return entry.name

        return allowed

    router = APIRouter(prefix=prefix, tags=[f"gateway of {agency_id}"])
    refusals: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem}
        for code in (404, 409, 422, 429, 503, *((401, 403) if accepted_tokens else ()))
    }
    tables_ready = False

    async def ensure_tables() -> None:
        nonlocal tables_ready
        if not tables_ready:
            await service.prepare_schema()
            tables_ready = True

    def key_required(key: str | None) -> None:
        if key is None and require_idempotency_key:
            raise GatewayProblem(
                "idempotency-key-missing",
                f"this gateway requires an {IDEMPOTENCY_HEADER} header on every mutating request",
            )

    @router.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={
            400: {"model": Problem, "description": "the Idempotency-Key is missing (required)"},
            413: {"model": Problem, "description": f"the body is over {max_body_bytes} bytes"},
            **refusals,
        },
        summary="Submit an event as this agency",
    )
    async def submit(
        submission: Annotated[Submission, Body()],
        name: Annotated[str, Depends(client(Scope.SUBMIT))],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Any:
        """Validate ``data`` against the type's contract, sign and queue the event(s).

        422 names the invalid field (``data.reason``, ``to``, ...); 409 when the referral
        or case state machine refuses the step. With an ``Idempotency-Key``, a retry gets
        the first answer (same event ids) and nothing is carried out again.
        """
        key_required(idempotency_key)
        if submission.case_id is not None and not is_ulid(submission.case_id):
            raise _invalid("case_id", "must be a ULID")
        await ensure_tables()
        if idempotency_key is None:
            return await _submit(submission, None, "")
        digest = request_digest(submission.model_dump(mode="json"))
        async with keys.claimed(idempotency_key):
            try:
                return await _submit(submission, idempotency_key, digest)
            except IntegrityError:  # another replica stored the key first
                raise GatewayProblem(
                    "idempotency-key-in-flight",
                    f"a request with {IDEMPOTENCY_HEADER} {idempotency_key!r} is being "
                    "carried out elsewhere; retry",
                    headers={"Retry-After": "1"},
                ) from None

    async def _submit(submission: Any, key: str | None, digest: str) -> Any:
        try:
            async with service.unit_of_work() as uow:
                if key is not None:
                    stored = await keys.stored(uow, key, digest)
                    if stored is not None:
                        return JSONResponse(
                            stored.body,
                            status_code=stored.status,
                            headers={REPLAYED_HEADER: "true"},
                        )
                    await keys.prune(uow)
                await carry_out(service, uow, submission)
                emitted = [envelope.id for envelope in uow.emitted]
                accepted = Accepted(
                    id=emitted[-1],
                    type=cloudevent_type(submission.event_type),
                    subject=uow.emitted[-1].subject,
                    emitted=emitted,
                )
                if key is not None:
                    keys.store(uow, key, digest, 202, accepted.model_dump(mode="json"))
        except SubmissionRefused as exc:
            raise _invalid(exc.field, exc.message) from None
        except UnknownAgency as exc:
            raise _invalid("to", str(exc)) from None
        except StepRefused as exc:
            raise _refuse(409, exc.detail) from None
        except RetryableError as exc:
            raise _refuse(503, str(exc)) from None
        return accepted

    @router.get(
        "/inbox",
        response_model=list[InboxItem],
        responses=refusals,
        summary="What was delivered to us",
    )
    async def inbox(
        name: Annotated[str, Depends(client(Scope.READ_INBOX))],
        kind: Annotated[str | None, Query(description="only items of this kind")] = None,
        pending: Annotated[bool, Query(description="only items not yet acknowledged")] = False,
        after: Annotated[
            int, Query(ge=0, description="only items after this `position` (the cursor)")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="at most this many items")] = 500,
        wait: Annotated[
            float,
            Query(ge=0, le=60, description="seconds to wait for an item when there is none"),
        ] = 0,
    ) -> list[InboxItem]:
        """Referrals and warnings delivered to this agency, in the order the gateway first
        listed them. Page with ``after`` = the last item's ``position``: an item arriving
        meanwhile comes after it, never before. With ``wait``, an empty answer is held back
        until an item arrives or ``wait`` seconds pass (long-poll)."""
        await ensure_tables()
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            items = await _listed(kind, pending, after, limit)
            if items or asyncio.get_running_loop().time() >= deadline:
                return items
            await asyncio.sleep(
                min(LONG_POLL_S, max(0.0, deadline - asyncio.get_running_loop().time()))
            )

    async def _listed(kind: str | None, pending: bool, after: int, limit: int) -> list[InboxItem]:
        for attempt in range(3):
            try:
                async with service.database.transaction() as session:
                    items: list[InboxItem] = []
                    for source in sources.values():
                        items.extend(await source.items(session))
                    items = await positioned(session, items)
                break
            except IntegrityError:  # another request numbered the same new item first
                if attempt == 2:
                    raise
        return [
            item
            for item in items
            if item.position > after
            and (kind is None or item.kind == kind)
            and not (pending and item.acknowledged_at is not None)
        ][:limit]

    @router.post(
        "/inbox/{item_id}/ack",
        response_model=InboxAcknowledgement,
        responses={400: {"model": Problem}, **refusals},
        summary="Acknowledge an inbox item",
    )
    async def acknowledge(
        item_id: Annotated[str, Path(description="`<kind>:<id>`, as listed")],
        name: Annotated[str, Depends(client(Scope.READ_INBOX))],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> InboxAcknowledgement:
        """Record that the agency's system took the item over; repeating it is harmless
        (idempotent by itself: an ``Idempotency-Key`` is accepted, and needed only when the
        gateway requires one)."""
        key_required(idempotency_key)
        await ensure_tables()
        try:
            kind, ref = item_ref(item_id)
        except ValueError as exc:
            raise _refuse(404, str(exc)) from None
        source = sources.get(kind)
        async with service.unit_of_work() as uow:
            if source is None or not await source.exists(uow.session, ref):
                raise _refuse(404, f"no inbox item {item_id}")
            row = await uow.session.get(ItemAcknowledgement, item_id)
            if row is None:
                row = ItemAcknowledgement(item_id=item_id, acknowledged_at=uow.now)
                uow.session.add(row)
                await source.on_acknowledged(uow, ref)
            acknowledged_at: datetime = row.acknowledged_at
        return InboxAcknowledgement(item_id=item_id, acknowledged_at=acknowledged_at)

    add_webhook_routes(
        router,
        service,
        guard=client(Scope.READ_INBOX),
        key_check=key_required,
        refusals=refusals,
        ensure_tables=ensure_tables,
    )

    add_evidence_routes(
        router,
        service,
        upload_guard=client(Scope.SUBMIT),
        read_guard=client(Scope.READ_CASES),
        refusals=refusals,
        max_bytes=evidence_max_bytes,
    )

    @router.get(
        "/cases/{case_id}",
        response_model=CaseView,
        responses=refusals,
        summary="A case this agency is party to",
    )
    async def case(
        case_id: Annotated[str, Path(pattern=ULID_PATTERN)],
        name: Annotated[str, Depends(client(Scope.READ_CASES))],
    ) -> CaseView:
        """The shared status and timeline, from the coordinator (need-to-know applies)."""
        try:
            reply = await query_case(
                service.broker.connection, requester=agency_id, case_id=case_id
            )
        except RetryableError as exc:
            raise _refuse(503, str(exc)) from None
        if reply.case is None:
            raise _refuse(404, reply.error or "case not found")
        return reply.case

    return router
