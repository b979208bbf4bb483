"""Oversight of cases penalised but never transferred (以罚代刑), pure.

What the coordinator sees: a regulator's ``case.status_changed`` to ``penalized`` carrying
its findings. When those findings cross a criminal threshold in force on the date of the act
(the same rows the regulator reads) and the case was never transferred to public security,
it is flagged to the procuratorate competent for the regulator's region. From there:

``flagged`` → (procuratorate) ``oversight.suggested`` → ``suggested``, with a reply
deadline → (regulator) ``oversight.answered`` → ``answered``, or (regulator)
``referral.issued`` to public security (``admin_to_criminal``, or ``customs_to_criminal`` when
the penalising body is customs) on the case → ``transferred``. A transfer closes
the oversight at any point; an answer only after a suggestion. Anyone else saying these
things is refused. A final judgment on the case (``judgment.final``) closes what is still
open (``closed``): the criminal matter has been decided.
"""

from dataclasses import dataclass
from enum import StrEnum

from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.oversight import CaseFindings, OversightAnswered, OversightSuggested
from contracts.referrals import ReferralKind
from services.coordinator.cases.domain import CRIMINAL_KINDS, CaseFile, RefusedStep
from services.runtime.law import (
    RuleBook,
    ThresholdCrossed,
    ThresholdUnassessable,
    crossed_threshold,
)

__all__ = [
    "OversightStatus",
    "OversightView",
    "flag_needed",
    "penalty_findings",
    "step_oversight",
    "transferred",
]


class OversightStatus(StrEnum):
    FLAGGED = "flagged"
    SUGGESTED = "suggested"
    ANSWERED = "answered"
    TRANSFERRED = "transferred"
    CLOSED = "closed"
    """The case's judgment became final: nothing is left to transfer."""


OPEN = frozenset({OversightStatus.FLAGGED, OversightStatus.SUGGESTED})


@dataclass(frozen=True, slots=True)
class OversightView:
    """One oversight as the rules need it."""

    oversight_id: str
    regulator: str
    procuratorate: str
    status: OversightStatus


def transferred(case: CaseFile) -> bool:
    """Whether the case went to public security (from a regulator or customs), at any time."""
    return any(ReferralKind(r.kind) in CRIMINAL_KINDS for r in case.referrals.values())


def penalty_findings(change: CaseStatusChanged) -> CaseFindings | None:
    """The findings of a penalty, the only status change oversight reads."""
    return change.findings if change.status is CaseStatus.PENALIZED else None


def flag_needed(
    case: CaseFile, findings: CaseFindings, book: RuleBook, *, open_oversight: bool
) -> ThresholdCrossed | None:
    """The threshold a penalised case crossed without a transfer, if it should be flagged.

    Findings in another currency cannot be read against a threshold: not flagged.
    """
    if open_oversight or transferred(case):
        return None
    try:
        return crossed_threshold(findings, book)
    except ThresholdUnassessable:
        return None


def step_oversight(
    current: OversightView, payload: OversightSuggested | OversightAnswered, sender: str
) -> OversightStatus:
    """The status after a suggestion or an answer, or :class:`RefusedStep` with the reason."""
    if current.status not in OPEN:
        raise RefusedStep(f"oversight {current.oversight_id} is already {current.status.value}")
    if isinstance(payload, OversightSuggested):
        if sender != current.procuratorate:
            raise RefusedStep(f"only {current.procuratorate} suggests a transfer of this case")
        return OversightStatus.SUGGESTED
    if sender != current.regulator:
        raise RefusedStep(f"only {current.regulator} answers this oversight")
    if current.status is not OversightStatus.SUGGESTED:
        raise RefusedStep(f"oversight {current.oversight_id} has no suggestion to answer")
    return OversightStatus.ANSWERED
