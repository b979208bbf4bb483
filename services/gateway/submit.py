"""What an agency system may submit through its gateway, and how each type is carried out.

A submission names a v1 event type and its ``data``; the data is validated against the
payload model in :mod:`contracts`, then the matching *command* of the adapter runs, so the
agency's own ledgers stay right (a ``referral.issued`` enters the referral ledger, a
``case.opened`` the local case file). Types the bus emits by itself are refused.
"""

from collections.abc import Awaitable, Callable
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    Protocol,
    TypeVar,
    Union,
    runtime_checkable,
)

from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.base import Payload
from contracts.cases import CaseClosed, CaseOpened, CaseStatusChanged
from contracts.events import EVENT_MODELS, cloudevent_type
from contracts.holders import HolderApplied, HolderDeclined
from contracts.identifiers import AgencyId
from contracts.referrals import (
    ReferralAccepted,
    ReferralConcluded,
    ReferralDeclined,
    ReferralIssued,
    ReferralWithdrawn,
)
from contracts.subjects import COORDINATOR
from services.sdk import AgencyAdapter, AgencyService, ReferralDesk, UnitOfWork

__all__ = [
    "NOT_SUBMITTABLE",
    "SUBMISSION_TAGS",
    "Submission",
    "SubmissionBase",
    "SubmissionRefused",
    "carry_out",
    "why_not_submittable",
]

NOT_SUBMITTABLE = {
    "referral.acknowledged": "sent automatically when a referral is stored",
    "referral.overdue": "issued by the coordinator only",
    "warning.delivered": "issued by the coordinator only",
    "holder.notified": "sent by customs when it records its notice of suspected goods",
    "holder.lapsed": "issued by the coordinator only",
    "evidence.attached": "attach evidence with POST /cases/{case_id}/evidence: the bytes go first",
    "evidence.received": "sent automatically when the desk has fetched and checked the evidence",
}
"""Event types an agency system may not submit, and why."""


class SubmissionBase(BaseModel):
    """An event an agency system asks its gateway to sign and send (one subclass per type)."""

    model_config = ConfigDict(extra="forbid")

    event_type: ClassVar[str] = ""
    type: str
    to: AgencyId | None = Field(
        default=None,
        description="recipient agency id; default `coordinator` (required for `referral.issued`)",
    )
    case_id: str | None = Field(default=None, description="the case (ULID) the event is about")
    data: Payload


def _variant(event_type: str, model: type[Payload]) -> type[SubmissionBase]:
    """The submission of one event type: ``type`` is its tag, ``data`` its payload model."""
    tags = (event_type, cloudevent_type(event_type))
    tag: Any = Literal[tags]  # built at run time: one literal per submittable type
    variant = create_model(
        f"{model.__name__}Submission",
        __base__=SubmissionBase,
        __doc__=f"Submit a `{event_type}` event: {(model.__doc__ or '').strip()}",
        type=(
            tag,
            Field(description=f"`{tags[0]}`, or its CloudEvents form `{tags[1]}`"),
        ),
        data=(model, Field(description=f"the `{event_type}` payload")),
    )
    variant.event_type = event_type
    return variant


SUBMITTABLE: dict[str, type[SubmissionBase]] = {
    event_type: _variant(event_type, model)
    for event_type, model in EVENT_MODELS.items()
    if event_type not in NOT_SUBMITTABLE
}
"""Event type → its submission model, for every type an agency system may submit."""

SUBMISSION_TAGS = frozenset(
    tag for event_type in SUBMITTABLE for tag in (event_type, cloudevent_type(event_type))
)

if TYPE_CHECKING:
    Submission = SubmissionBase
else:
    Submission = Annotated[
        Union[tuple(SUBMITTABLE.values())],  # noqa: UP007 - built at run time
        Field(discriminator="type"),
    ]
"""The body of ``POST /events``: a union discriminated on ``type``, so the OpenAPI document
carries every payload schema and a generated client gets one typed model per event type."""


def why_not_submittable(tag: str) -> str | None:
    """Why ``tag`` (a ``type`` value) is refused: emitted by the bus only, or unknown."""
    event_type = tag.removeprefix("ipbus.").removesuffix(".v1")
    if event_type in NOT_SUBMITTABLE:
        return f"{event_type} is {NOT_SUBMITTABLE[event_type]}"
    if tag not in SUBMISSION_TAGS:
        return f"unknown event type {tag!r}"
    return None


class SubmissionRefused(Exception):
    """The submission is well formed but cannot be carried out; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


Command = Callable[[AgencyService, UnitOfWork, SubmissionBase, Payload], Awaitable[None]]
PayloadT = TypeVar("PayloadT", bound=Payload)


def _command(
    model: type[PayloadT],
    run: Callable[[AgencyService, UnitOfWork, SubmissionBase, PayloadT], Awaitable[None]],
) -> tuple[type[Payload], Command]:
    """``run`` for payloads of ``model``, as an entry of :data:`COMMANDS`."""

    async def command(
        service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, payload: Payload
    ) -> None:
        if not isinstance(payload, model):  # COMMANDS is keyed by the payload's type
            raise TypeError(f"{model.__name__} command given a {type(payload).__name__}")
        await run(service, uow, sub, payload)

    return model, command


def _case_id(submission: SubmissionBase) -> str:
    if submission.case_id is None:
        raise SubmissionRefused("case_id", f"{submission.type} needs the case it is about")
    return submission.case_id


def _desk(service: AgencyService) -> ReferralDesk:
    if not isinstance(service, ReferralDesk):
        raise SubmissionRefused("type", f"{service.service_name} does not keep referrals")
    return service


def _adapter(service: AgencyService) -> AgencyAdapter:
    if not isinstance(service, AgencyAdapter):
        raise SubmissionRefused("type", f"{service.service_name} does not keep cases")
    return service


async def _issue(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: ReferralIssued
) -> None:
    if sub.to is None:
        raise SubmissionRefused("to", "a referral needs a recipient agency")
    if sub.case_id is not None and sub.case_id != p.case_id:
        raise SubmissionRefused("data.case_id", f"differs from case_id {sub.case_id}")
    await _desk(service).send_referral(uow, p, to=sub.to)


async def _accept(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: ReferralAccepted
) -> None:
    await _desk(service).accept_referral(uow, p.referral_id, local_ref=p.local_ref)


async def _decline(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: ReferralDeclined
) -> None:
    await _desk(service).decline_referral(uow, p.referral_id, reason=p.reason)


async def _conclude(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: ReferralConcluded
) -> None:
    await _desk(service).conclude_referral(uow, p.referral_id, outcome=p.outcome)


async def _withdraw(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: ReferralWithdrawn
) -> None:
    await _desk(service).withdraw_referral(uow, p.referral_id, reason=p.reason)


async def _open(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: CaseOpened
) -> None:
    await _adapter(service).open_case(
        uow,
        case_id=_case_id(sub),
        local_ref=p.local_ref,
        title=p.title,
        ip_rights=p.ip_rights,
        parties=p.parties,
        goods=p.goods,
    )


async def _status(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: CaseStatusChanged
) -> None:
    await _adapter(service).change_case_status(uow, _case_id(sub), p.status, note=p.note)


async def _close(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: CaseClosed
) -> None:
    await _adapter(service).close_case(uow, _case_id(sub), outcome=p.outcome)


@runtime_checkable
class AnswersHolders(Protocol):
    """A rights-holder desk: records a holder's answer to customs' notice, then sends it."""

    async def submit_answer(
        self, uow: UnitOfWork, answer: HolderApplied | HolderDeclined
    ) -> None: ...


async def _holder_answer(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: HolderApplied
) -> None:
    if not isinstance(service, AnswersHolders):
        raise SubmissionRefused("type", f"{service.service_name} speaks for no rights holder")
    await service.submit_answer(uow, p)


async def _holder_decline(
    service: AgencyService, uow: UnitOfWork, sub: SubmissionBase, p: HolderDeclined
) -> None:
    if not isinstance(service, AnswersHolders):
        raise SubmissionRefused("type", f"{service.service_name} speaks for no rights holder")
    await service.submit_answer(uow, p)


COMMANDS: dict[type[Payload], Command] = dict(
    [
        _command(ReferralIssued, _issue),
        _command(ReferralAccepted, _accept),
        _command(ReferralDeclined, _decline),
        _command(ReferralConcluded, _conclude),
        _command(ReferralWithdrawn, _withdraw),
        _command(CaseOpened, _open),
        _command(CaseStatusChanged, _status),
        _command(CaseClosed, _close),
        _command(HolderApplied, _holder_answer),
        _command(HolderDeclined, _holder_decline),
    ]
)


async def carry_out(service: AgencyService, uow: UnitOfWork, submission: SubmissionBase) -> None:
    """Run the command for ``payload``'s type, or emit it as it is (``to`` or the coordinator).

    ``StepRefused`` (a state machine said no) propagates; the gateway answers 409.
    """
    payload = submission.data
    command = COMMANDS.get(type(payload))
    if command is not None:
        await command(service, uow, submission, payload)
        return
    recipient = submission.to or COORDINATOR
    if recipient not in service.registry:
        raise SubmissionRefused("to", f"agency {recipient!r} is not in the registry")
    if recipient == service.agency.id:
        raise SubmissionRefused("to", "an agency does not send events to itself")
    named = getattr(payload, "case_id", None)
    if submission.case_id is not None and named is not None and named != submission.case_id:
        raise SubmissionRefused("data.case_id", f"differs from case_id {submission.case_id}")
    uow.emit(payload, to=recipient, case_id=submission.case_id or named)
