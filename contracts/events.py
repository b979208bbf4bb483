"""The catalogue of event types: CloudEvents ``type`` ↔ payload model.

One table, so that the envelope, the DLQ reasons, the schemas and the tests all agree on which
types exist; anything not in it is refused as an unknown type.
"""

import re
from types import MappingProxyType

from contracts.base import Payload
from contracts.cases import CaseCancelled, CaseClosed, CaseOpened, CaseStatusChanged
from contracts.credit import CreditDelisted, CreditListed
from contracts.customs import GoodsConfiscated, GoodsDetained, GoodsReleased
from contracts.evidence import EvidenceAttached, EvidenceReceived
from contracts.handover import ItemsHandedOver
from contracts.holders import HolderApplied, HolderDeclined, HolderLapsed, HolderNotified
from contracts.judicial import (
    ConfirmationIssued,
    JudgmentAppealed,
    JudgmentFinal,
    JudgmentRendered,
    ProsecutionDeclined,
)
from contracts.linkage import (
    FilingNotified,
    ReconsiderationRequested,
    ReferralCopied,
    ReferralDeclineUpheld,
    ReferralRefused,
    RefusalExplained,
    SupervisionClosed,
    SupervisionOpened,
)
from contracts.oversight import OversightAnswered, OversightFlagged, OversightSuggested
from contracts.referral_clocks import ReferralClockResumed, ReferralClockStopped, ReferralExtended
from contracts.referrals import (
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralConcluded,
    ReferralDeclined,
    ReferralIssued,
    ReferralOverdue,
    ReferralWithdrawn,
)
from contracts.warnings import (
    WarningAcknowledged,
    WarningDelivered,
    WarningEscalated,
    WarningIssued,
    WarningRetracted,
)

__all__ = [
    "CLOUDEVENT_PREFIX",
    "CLOUDEVENT_VERSION",
    "EVENT_MODELS",
    "UnknownEventType",
    "UnsupportedEventVersion",
    "cloudevent_type",
    "event_type_from_cloudevent",
    "payload_model",
]

CLOUDEVENT_PREFIX = "ipbus."
CLOUDEVENT_VERSION = "v1"

_ALL: tuple[type[Payload], ...] = (
    CaseOpened,
    CaseStatusChanged,
    CaseClosed,
    CaseCancelled,
    ReferralIssued,
    ReferralAcknowledged,
    ReferralAccepted,
    ReferralDeclined,
    ReferralConcluded,
    ReferralWithdrawn,
    ReferralOverdue,
    ReconsiderationRequested,
    ReferralDeclineUpheld,
    SupervisionOpened,
    RefusalExplained,
    FilingNotified,
    SupervisionClosed,
    ReferralCopied,
    ReferralRefused,
    ReferralExtended,
    ReferralClockStopped,
    ReferralClockResumed,
    WarningIssued,
    WarningDelivered,
    WarningAcknowledged,
    WarningRetracted,
    WarningEscalated,
    GoodsDetained,
    GoodsReleased,
    GoodsConfiscated,
    JudgmentRendered,
    ConfirmationIssued,
    JudgmentAppealed,
    JudgmentFinal,
    ProsecutionDeclined,
    CreditListed,
    CreditDelisted,
    OversightFlagged,
    OversightSuggested,
    OversightAnswered,
    ItemsHandedOver,
    HolderNotified,
    HolderApplied,
    HolderDeclined,
    HolderLapsed,
    EvidenceAttached,
    EvidenceReceived,
)

EVENT_MODELS: MappingProxyType[str, type[Payload]] = MappingProxyType(
    {model.event_type: model for model in _ALL}
)
"""Event type (``referral.issued``) → its payload model, for every v1 type."""

_VERSION = re.compile(r"^v[0-9]+$")


class UnknownEventType(ValueError):
    """An event type (or CloudEvents type) that this contract does not define."""


class UnsupportedEventVersion(UnknownEventType):
    """A known kind of event in a version this contract does not speak (e.g. ``.v2``)."""


def payload_model(event_type: str) -> type[Payload]:
    """The payload model of ``event_type`` (``referral.issued``)."""
    try:
        return EVENT_MODELS[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def cloudevent_type(event_type: str) -> str:
    """``referral.issued`` → ``ipbus.referral.issued.v1``; unknown types are refused."""
    payload_model(event_type)
    return f"{CLOUDEVENT_PREFIX}{event_type}.{CLOUDEVENT_VERSION}"


def event_type_from_cloudevent(ce_type: str) -> str:
    """``ipbus.referral.issued.v1`` → ``referral.issued``; wrong prefix/version/type refused."""
    if not ce_type.startswith(CLOUDEVENT_PREFIX):
        raise UnknownEventType(f"CloudEvents type {ce_type!r} does not start with 'ipbus.'")
    body, _, version = ce_type[len(CLOUDEVENT_PREFIX) :].rpartition(".")
    if not body or not _VERSION.match(version):
        raise UnknownEventType(f"CloudEvents type {ce_type!r} has no version suffix (.v1)")
    if version != CLOUDEVENT_VERSION:
        raise UnsupportedEventVersion(
            f"CloudEvents type {ce_type!r}: unsupported version {version}"
        )
    if body not in EVENT_MODELS:
        raise UnknownEventType(f"CloudEvents type {ce_type!r}: unknown event type {body!r}")
    return body
