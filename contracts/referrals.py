"""Referral events and the one referral state machine (DESIGN §5).

Every follow-up names its ``referral_id``: that is how a receipt or decision finds the referral it
answers. The state machine is pure so that the coordinator, adapters and tests share one rule set.
"""

from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import Payload
from contracts.identifiers import LocalRef, Money, NonEmptyStr, Sha256Hex, Ulid, UtcDatetime

__all__ = [
    "CLOCK_STEPS",
    "REFERRAL_STEPS",
    "STAGE_OPEN_IN",
    "TERMINAL_REFERRAL_STATES",
    "AssistancePurpose",
    "Evidence",
    "IllegalReferralStep",
    "ReferralAccepted",
    "ReferralAcknowledged",
    "ReferralConcluded",
    "ReferralDeclined",
    "ReferralIssued",
    "ReferralKind",
    "ReferralOverdue",
    "ReferralParty",
    "ReferralPayload",
    "ReferralStage",
    "ReferralState",
    "ReferralStep",
    "ReferralWithdrawn",
    "step_referral",
]


class ReferralKind(StrEnum):
    """Which linkage a referral belongs to; deadlines are policy per kind."""

    CUSTOMS_TO_ENFORCEMENT = "customs_to_enforcement"
    CUSTOMS_TO_CRIMINAL = "customs_to_criminal"
    ADMIN_TO_CRIMINAL = "admin_to_criminal"
    CRIMINAL_TO_ADMIN = "criminal_to_admin"
    MEDIATION_CONFIRMATION = "mediation_confirmation"
    OVERSEAS_ASSISTANCE = "overseas_assistance"
    REGULATOR_ASSISTANCE = "regulator_assistance"
    """A regulator asks the regulator of another province to act for it (协助调查函)."""


class AssistancePurpose(StrEnum):
    """What a ``regulator_assistance`` referral asks the other region's regulator to do."""

    INVESTIGATE_LEAD = "investigate_lead"
    """Investigate a lead or take evidence in its region (协助调查)."""
    SERVE_DOCUMENT = "serve_document"
    """Serve a document on a party in its region (委托送达)."""


class Evidence(BaseModel):
    """A piece of evidence by reference: the digest lets the recipient check what it fetched."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: NonEmptyStr
    sha256: Sha256Hex
    uri: NonEmptyStr


class ReferralPayload(Payload):
    """A step of a referral: every one names the referral it starts or answers."""

    referral_id: Ulid


class ReferralIssued(ReferralPayload):
    """The sender refers a case to the recipient; starts the referral."""

    event_type: ClassVar[str] = "referral.issued"

    case_id: Ulid
    kind: ReferralKind
    reason: NonEmptyStr
    legal_basis: NonEmptyStr
    summary: NonEmptyStr
    evidence: list[Evidence] = Field(default_factory=list)
    amount: Money | None = None
    purpose: AssistancePurpose | None = None
    """What is asked: required for ``regulator_assistance``, and only for it."""

    @model_validator(mode="after")
    def _purpose_only_for_assistance(self) -> Self:
        asks = self.kind is ReferralKind.REGULATOR_ASSISTANCE
        if asks and self.purpose is None:
            raise ValueError("a regulator_assistance referral names its purpose")
        if not asks and self.purpose is not None:
            raise ValueError(f"purpose is only for regulator_assistance, not {self.kind.value}")
        return self


class ReferralAcknowledged(ReferralPayload):
    """Delivery receipt: the recipient has the referral, under its receipt number."""

    event_type: ClassVar[str] = "referral.acknowledged"

    receipt: NonEmptyStr


class ReferralAccepted(ReferralPayload):
    """The recipient takes the case on, under its own reference."""

    event_type: ClassVar[str] = "referral.accepted"

    local_ref: LocalRef


class ReferralDeclined(ReferralPayload):
    """The recipient refuses the referral; the reason is required (it may be reconsidered)."""

    event_type: ClassVar[str] = "referral.declined"

    reason: NonEmptyStr


class ReferralConcluded(ReferralPayload):
    """The recipient has finished the referred matter."""

    event_type: ClassVar[str] = "referral.concluded"

    outcome: NonEmptyStr


class ReferralWithdrawn(ReferralPayload):
    """The sender takes the referral back."""

    event_type: ClassVar[str] = "referral.withdrawn"

    reason: NonEmptyStr


class ReferralStage(StrEnum):
    """Which deadline passed; each stage has its own, and each is overdue at most once."""

    ACKNOWLEDGE = "acknowledge"
    DECIDE = "decide"
    RECONSIDER = "reconsider"
    """The recipient answers a request for reconsideration."""
    EXPLAIN = "explain"
    """Under supervision, the recipient explains its refusal."""
    FILE = "file"
    """Notified by the procuratorate, the recipient files the case."""
    CONCLUDE = "conclude"
    """Having accepted, the recipient concludes (e.g. a court decides on confirming a mediation
    agreement); a deadline only for kinds whose rule sets one."""
    OVERSIGHT_REPLY = "oversight_reply"
    """Asked by the procuratorate to transfer a flagged case, the regulator transfers it or
    explains why not (``oversight.*``); the notice's ``referral_id`` is the oversight id."""


class ReferralOverdue(ReferralPayload):
    """Negative receipt from the coordinator: a deadline passed. Not a state change."""

    event_type: ClassVar[str] = "referral.overdue"

    case_id: Ulid
    stage: ReferralStage
    due_at: UtcDatetime


class ReferralState(StrEnum):
    """Where a referral stands."""

    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    CONCLUDED = "concluded"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    RECONSIDERING = "reconsidering"
    DECLINE_UPHELD = "decline_upheld"
    SUPERVISED = "supervised"
    EXPLAINED = "explained"
    FILING_NOTIFIED = "filing_notified"
    SUPERVISION_CLOSED = "supervision_closed"


class ReferralParty(StrEnum):
    """Which end of the referral takes a step."""

    SENDER = "sender"
    RECIPIENT = "recipient"
    SUPERVISOR = "supervisor"
    """The procuratorate of the recipient's region."""


class ReferralStep(NamedTuple):
    """One allowed transition: from which states (``None`` = new), to which, by whom."""

    from_states: frozenset[ReferralState | None]
    to_state: ReferralState
    by: frozenset[ReferralParty]


_S = ReferralState
_SENDER = frozenset({ReferralParty.SENDER})
_RECIPIENT = frozenset({ReferralParty.RECIPIENT})
_SUPERVISOR = frozenset({ReferralParty.SUPERVISOR})
REFERRAL_STEPS: MappingProxyType[str, ReferralStep] = MappingProxyType(
    {
        "referral.issued": ReferralStep(frozenset({None}), _S.ISSUED, _SENDER),
        "referral.acknowledged": ReferralStep(frozenset({_S.ISSUED}), _S.ACKNOWLEDGED, _RECIPIENT),
        # a reversal on reconsideration, and filing after a notice to file, are acceptances too
        "referral.accepted": ReferralStep(
            frozenset({_S.ISSUED, _S.ACKNOWLEDGED, _S.RECONSIDERING, _S.FILING_NOTIFIED}),
            _S.ACCEPTED,
            _RECIPIENT,
        ),
        "referral.declined": ReferralStep(
            frozenset({_S.ISSUED, _S.ACKNOWLEDGED}), _S.DECLINED, _RECIPIENT
        ),
        "referral.concluded": ReferralStep(frozenset({_S.ACCEPTED}), _S.CONCLUDED, _RECIPIENT),
        "referral.withdrawn": ReferralStep(
            frozenset({_S.ISSUED, _S.ACKNOWLEDGED, _S.ACCEPTED, _S.DECLINED, _S.DECLINE_UPHELD}),
            _S.WITHDRAWN,
            _SENDER,
        ),
        "referral.reconsideration_requested": ReferralStep(
            frozenset({_S.DECLINED}), _S.RECONSIDERING, _SENDER
        ),
        "referral.decline_upheld": ReferralStep(
            frozenset({_S.RECONSIDERING}), _S.DECLINE_UPHELD, _RECIPIENT
        ),
        "referral.supervision_opened": ReferralStep(
            frozenset({_S.DECLINED, _S.DECLINE_UPHELD}),
            _S.SUPERVISED,
            frozenset({ReferralParty.SENDER, ReferralParty.SUPERVISOR}),
        ),
        "referral.refusal_explained": ReferralStep(
            frozenset({_S.SUPERVISED}), _S.EXPLAINED, _RECIPIENT
        ),
        "referral.filing_notified": ReferralStep(
            frozenset({_S.SUPERVISED, _S.EXPLAINED}), _S.FILING_NOTIFIED, _SUPERVISOR
        ),
        "referral.supervision_closed": ReferralStep(
            frozenset({_S.EXPLAINED}), _S.SUPERVISION_CLOSED, _SUPERVISOR
        ),
    }
)
"""Event type → allowed step. ``referral.overdue``, ``referral.copied`` and
``referral.refused`` are deliberately absent: they report, they change nothing."""

STAGE_OPEN_IN: MappingProxyType[ReferralStage, frozenset[ReferralState]] = MappingProxyType(
    {
        ReferralStage.ACKNOWLEDGE: frozenset({_S.ISSUED}),
        ReferralStage.DECIDE: frozenset({_S.ISSUED, _S.ACKNOWLEDGED}),
        ReferralStage.RECONSIDER: frozenset({_S.RECONSIDERING}),
        ReferralStage.EXPLAIN: frozenset({_S.SUPERVISED}),
        ReferralStage.FILE: frozenset({_S.FILING_NOTIFIED}),
        ReferralStage.CONCLUDE: frozenset({_S.ACCEPTED}),
        # owed to the procuratorate on an oversight, never in a referral state: its rows are
        # keyed by oversight id and settled by services/coordinator/oversight/flow.py
        ReferralStage.OVERSIGHT_REPLY: frozenset(),
    }
)
"""Stage → the states in which the recipient still owes it; any other state: met (or moot)."""

CLOCK_STEPS: MappingProxyType[str, frozenset[ReferralParty]] = MappingProxyType(
    {
        "referral.extended": _RECIPIENT,
        "referral.clock_stopped": _RECIPIENT,
        "referral.clock_resumed": _RECIPIENT,
    }
)
"""Steps on a deadline, not on the referral: taken by the recipient who owes the stage, in
a state that owes some stage; the referral's state stays. Whether the rule allows the step
(and which stage) the coordinator checks against its deadline table."""

_OWING = frozenset(state for states in STAGE_OPEN_IN.values() for state in states)

TERMINAL_REFERRAL_STATES: frozenset[ReferralState] = frozenset(
    {_S.CONCLUDED, _S.WITHDRAWN, _S.SUPERVISION_CLOSED}
)
"""States no step leaves. A decline is not final: it may be reconsidered or supervised."""

_ORDER = list(ReferralState)


class IllegalReferralStep(ValueError):
    """A referral event that the state machine refuses; the message says why."""


def _describe(state: ReferralState | None) -> str:
    return "a new referral" if state is None else state.value


def step_referral(state: ReferralState | None, event_type: str, by: ReferralParty) -> ReferralState:
    """The state after ``event_type`` taken by ``by`` in ``state`` (``None``: no referral yet).

    A clock step (:data:`CLOCK_STEPS`) leaves the state as it is."""
    if event_type in CLOCK_STEPS:
        if by not in CLOCK_STEPS[event_type]:
            raise IllegalReferralStep(f"{event_type} must come from the recipient")
        if state not in _OWING:
            raise IllegalReferralStep(
                f"{event_type} is not allowed from state {_describe(state)} (no stage is owed)"
            )
        return state
    step = REFERRAL_STEPS.get(event_type)
    if step is None:
        raise IllegalReferralStep(
            f"{event_type} is not a referral step (steps: {', '.join(REFERRAL_STEPS)})"
        )
    if by not in step.by:
        parties = " or ".join(p.value for p in ReferralParty if p in step.by)
        raise IllegalReferralStep(f"{event_type} must come from the {parties}")
    if state not in step.from_states:
        allowed = sorted(step.from_states, key=lambda s: -1 if s is None else _ORDER.index(s))
        raise IllegalReferralStep(
            f"{event_type} is not allowed from state {_describe(state)} "
            f"(allowed from: {', '.join(_describe(s) for s in allowed)})"
        )
    return step.to_state
