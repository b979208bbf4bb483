"""The agency-side HTTP gateway: the bus as an agency's own systems see it.

Like an X-Road security server, it runs next to one adapter, inside the agency: the agency's
case-management system submits events over plain HTTP+JSON and the gateway validates them
against :mod:`contracts`, signs them with the agency's key and puts them in the outbox; it
reads the agency's inbox and asks the coordinator about cases the agency is party to.

:func:`gateway_router` returns a FastAPI ``APIRouter`` that any FastAPI app can mount;
:mod:`services.runtime.gateway_server` serves it alone on a port.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> # app.include_router(gateway_router(service))   # service: a started AgencyService
"""

import hmac
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from contracts.agencies import UnknownAgency
from contracts.events import (
    UnknownEventType,
    cloudevent_type,
    event_type_from_cloudevent,
    payload_model,
)
from contracts.identifiers import is_ulid
from contracts.queries import CaseView
from services.runtime.adapter import AgencyService
from services.runtime.errors import RetryableError, StepRefused
from services.runtime.gateway_guard import DEFAULT_MAX_BODY_BYTES
from services.runtime.gateway_inbox import (
    InboxAcknowledgement,
    InboxItem,
    InboxSource,
    ItemAcknowledgement,
    ReferralInbox,
    item_ref,
)
from services.runtime.gateway_submit import (
    NOT_SUBMITTABLE,
    Submission,
    SubmissionRefused,
    carry_out,
)
from services.runtime.gateway_warnings import WarningInbox
from services.runtime.queries import query_case
from services.runtime.referral_desk import ReferralDesk
from services.runtime.warning_desk import WarningDesk

__all__ = [
    "Accepted",
    "Problem",
    "bearer_token_check",
    "default_inbox_sources",
    "gateway_router",
]

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"


class Accepted(BaseModel):
    """The event was signed and committed to the outbox; it is published right after."""

    id: str
    type: str
    subject: str | None
    emitted: list[str]


class Problem(BaseModel):
    """Why a request was refused (404, 409, 503); 422s have FastAPI's shape, with ``loc``."""

    detail: str


def default_inbox_sources(service: AgencyService) -> list[InboxSource]:
    """The inbox sources every adapter of this shape has (referrals for a referral desk)."""
    sources: list[InboxSource] = []
    if isinstance(service, ReferralDesk):
        sources.append(ReferralInbox())
    if isinstance(service, WarningDesk):
        sources.append(WarningInbox(service))
    return sources


def _refuse(code: int, detail: str) -> HTTPException:
    return HTTPException(status_code=code, detail=detail)


def _invalid(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's own shape: ``loc`` names the field, ``msg`` says what is wrong."""
    loc = ["body", *field.split(".")]
    return RequestValidationError([{"loc": loc, "msg": f"{field}: {message}", "type": kind}])


def _data_errors(exc: ValidationError) -> RequestValidationError:
    errors = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        field = ".".join(["data", *(str(p) for p in error["loc"])])
        errors.append(
            {
                "loc": ["body", "data", *error["loc"]],
                "msg": f"{field}: {error['msg']}",
                "type": error["type"],
            }
        )
    return RequestValidationError(errors)


def bearer_token_check(token: str) -> Callable[..., Awaitable[None]]:
    """A dependency refusing (401) any request without ``Authorization: Bearer <token>``."""
    scheme = HTTPBearer(auto_error=False, description="the agency system's gateway token")
    expected = token.encode()

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="a valid gateway token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def gateway_router(
    service: AgencyService,
    *,
    inbox_sources: Sequence[InboxSource] | None = None,
    prefix: str = "",
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> APIRouter:
    """The HTTP API of one agency's gateway, bound to its (started) ``service``.

    With ``token``, every operation needs ``Authorization: Bearer <token>`` (401 otherwise):
    only the agency's own systems may act as the agency. ``max_body_bytes`` is documented
    here (413); the app enforces it (:class:`~services.runtime.gateway_guard.BodyLimit`).
    """
    sources = {s.kind: s for s in (inbox_sources or default_inbox_sources(service))}
    agency_id = service.agency.id
    guard = [Depends(bearer_token_check(token))] if token else []
    router = APIRouter(prefix=prefix, tags=[f"gateway of {agency_id}"], dependencies=guard)
    refusals: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem} for code in (404, 409, 503, *((401,) if token else ()))
    }
    tables_ready = False

    async def ensure_tables() -> None:
        nonlocal tables_ready
        if not tables_ready:
            await service.prepare_schema()
            tables_ready = True

    @router.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={
            400: {"model": Problem, "description": "the body is not JSON"},
            413: {"model": Problem, "description": f"the body is over {max_body_bytes} bytes"},
            **refusals,
        },
        summary="Submit an event as this agency",
    )
    async def submit(submission: Submission) -> Accepted:
        """Validate ``data`` against the type's contract, sign and queue the event(s).

        422 names the invalid field (``data.reason``, ``to``, ...); 409 when the referral
        or case state machine refuses the step.
        """
        try:
            if submission.type.startswith("ipbus."):
                event_type = event_type_from_cloudevent(submission.type)
            else:
                event_type = submission.type
            model = payload_model(event_type)
        except UnknownEventType as exc:
            raise _invalid("type", str(exc)) from None
        if event_type in NOT_SUBMITTABLE:
            raise _invalid("type", f"{event_type} is {NOT_SUBMITTABLE[event_type]}")
        if submission.case_id is not None and not is_ulid(submission.case_id):
            raise _invalid("case_id", "must be a ULID")
        try:
            payload = model.model_validate(submission.data)
        except ValidationError as exc:
            raise _data_errors(exc) from None
        try:
            async with service.unit_of_work() as uow:
                await carry_out(service, uow, submission, payload)
        except SubmissionRefused as exc:
            raise _invalid(exc.field, exc.message) from None
        except UnknownAgency as exc:
            raise _invalid("to", str(exc)) from None
        except StepRefused as exc:
            raise _refuse(409, exc.detail) from None
        emitted = [envelope.id for envelope in uow.emitted]
        return Accepted(
            id=emitted[-1],
            type=cloudevent_type(event_type),
            subject=uow.emitted[-1].subject,
            emitted=emitted,
        )

    @router.get("/inbox", response_model=list[InboxItem], summary="What was delivered to us")
    async def inbox(
        kind: Annotated[str | None, Query(description="only items of this kind")] = None,
        pending: Annotated[bool, Query(description="only items not yet acknowledged")] = False,
    ) -> list[InboxItem]:
        """Referrals (and, as sources are added, warnings) delivered to this agency."""
        await ensure_tables()
        items: list[InboxItem] = []
        async with service.database.transaction() as session:
            for source in sources.values():
                if kind is None or kind == source.kind:
                    items.extend(await source.items(session))
        if pending:
            items = [item for item in items if item.acknowledged_at is None]
        return sorted(items, key=lambda item: (item.received_at, item.item_id))

    @router.post(
        "/inbox/{item_id}/ack",
        response_model=InboxAcknowledgement,
        responses=refusals,
        summary="Acknowledge an inbox item",
    )
    async def acknowledge(
        item_id: Annotated[str, Path(description="`<kind>:<id>`, as listed")],
    ) -> InboxAcknowledgement:
        """Record that the agency's system took the item over; repeating it is harmless."""
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

    @router.get(
        "/cases/{case_id}",
        response_model=CaseView,
        responses=refusals,
        summary="A case this agency is party to",
    )
    async def case(case_id: Annotated[str, Path(pattern=ULID_PATTERN)]) -> CaseView:
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
