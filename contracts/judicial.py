"""Judicial events (DESIGN §5): what courts decide, reported back onto the shared case.

``confirmation.issued`` answers a ``mediation_confirmation`` referral: the court confirms (or
refuses to confirm) a mediation agreement so that it becomes enforceable.

The outcomes (DESIGN §5 "added in v1"): a first-instance judgment is appealed (上诉) or
protested (抗诉) — ``judgment.appealed`` — or becomes legally effective (生效) —
``judgment.final``; the procuratorate may instead decide not to prosecute (不起诉, Criminal
Procedure Law arts. 175–177) — ``prosecution.declined``. None of them carries a legal period:
the bus records what was decided, it does not compute appeal windows.
"""

from enum import StrEnum
from typing import ClassVar

from contracts.base import Payload
from contracts.identifiers import Money, NonEmptyStr, Ulid, UtcDatetime
from contracts.referrals import ReferralPayload

__all__ = [
    "AppealedBy",
    "ConfirmationIssued",
    "JudgmentAppealed",
    "JudgmentFinal",
    "JudgmentRendered",
    "ProsecutionDeclined",
]


class JudgmentRendered(Payload):
    """A court rendered judgment on the case."""

    event_type: ClassVar[str] = "judgment.rendered"

    case_id: Ulid
    court_ref: NonEmptyStr
    verdict: NonEmptyStr
    sentence: str = ""
    fine: Money | None = None
    rendered_at: UtcDatetime


class ConfirmationIssued(ReferralPayload):
    """A court's judicial confirmation of a mediation agreement (or its refusal)."""

    event_type: ClassVar[str] = "confirmation.issued"

    case_id: Ulid
    confirmation_ref: NonEmptyStr
    confirmed: bool
    note: str = ""


class AppealedBy(StrEnum):
    """Who challenged the judgment: the defendant or another party appeals (上诉), the
    procuratorate protests (抗诉)."""

    DEFENDANT = "defendant"
    PROCURATORATE = "procuratorate"
    PARTY = "party"


class JudgmentAppealed(Payload):
    """A judgment on the case was appealed or protested: the case is before a court again.

    A court records the appeal it received; a procuratorate reports its own protest.
    """

    event_type: ClassVar[str] = "judgment.appealed"

    case_id: Ulid
    court_ref: NonEmptyStr
    """The judgment appealed against."""
    appealed_by: AppealedBy
    appealed_at: UtcDatetime
    note: str = ""


class JudgmentFinal(Payload):
    """The judgment became legally effective (生效): the criminal linkage of the case is done."""

    event_type: ClassVar[str] = "judgment.final"

    case_id: Ulid
    court_ref: NonEmptyStr
    """The judgment that took effect (after an appeal, the second-instance one)."""
    final_at: UtcDatetime
    verdict: str = ""
    """A summary of what became final, when the court gives one."""


class ProsecutionDeclined(Payload):
    """The procuratorate decided not to prosecute (不起诉, Criminal Procedure Law arts. 175–177)."""

    event_type: ClassVar[str] = "prosecution.declined"

    case_id: Ulid
    decision_ref: NonEmptyStr
    grounds: NonEmptyStr
    decided_at: UtcDatetime
