"""When a mediation agreement may go to a court for judicial confirmation — pure rules.

A mediation agreement becomes enforceable once a court confirms it; the parties must apply
jointly within 30 days of the agreement taking effect (People's Mediation Law art. 33,
Civil Procedure Law art. 205), to a court. No I/O and no clock: ``now`` is passed in.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.agencies import Agency, AgencyKind, JudicialRole
from contracts.identifiers import Money

__all__ = [
    "CONFIRMATION_WINDOW",
    "LEGAL_BASIS",
    "AgreementNotConfirmable",
    "ConfirmationRequest",
    "MediationAgreement",
    "confirmation_request",
]

CONFIRMATION_WINDOW = timedelta(days=30)
LEGAL_BASIS = "People's Mediation Law art. 33; Civil Procedure Law art. 205"


class AgreementNotConfirmable(ValueError):
    """The agreement cannot be sent for confirmation; the message says why."""


@dataclass(frozen=True, kw_only=True)
class MediationAgreement:
    """A mediation agreement as the centre records it."""

    case_id: str
    local_ref: str
    title: str
    parties: tuple[str, ...]
    signed_by: tuple[str, ...]
    effective_at: datetime
    terms: str
    amount: Money | None = None


@dataclass(frozen=True, kw_only=True)
class ConfirmationRequest:
    """What the ``mediation_confirmation`` referral says."""

    reason: str
    legal_basis: str
    summary: str


def confirmation_request(
    agreement: MediationAgreement, court: Agency, *, now: datetime
) -> ConfirmationRequest:
    """The referral for ``agreement`` to ``court``, or :class:`AgreementNotConfirmable`."""
    if court.kind is not AgencyKind.JUDICIAL or court.role is not JudicialRole.COURT:
        raise AgreementNotConfirmable(f"{court.id} is not a court; only courts confirm agreements")
    if len(set(agreement.parties)) < 2:
        raise AgreementNotConfirmable("a mediation agreement needs at least two parties")
    unsigned = sorted(set(agreement.parties) - set(agreement.signed_by))
    if unsigned:
        raise AgreementNotConfirmable(f"not signed by every party: {', '.join(unsigned)}")
    if agreement.effective_at > now:
        raise AgreementNotConfirmable("the agreement has not taken effect yet")
    if now - agreement.effective_at > CONFIRMATION_WINDOW:
        raise AgreementNotConfirmable(
            f"more than {CONFIRMATION_WINDOW.days} days since the agreement took effect"
        )
    return ConfirmationRequest(
        reason="judicial confirmation of a mediation agreement",
        legal_basis=LEGAL_BASIS,
        summary=f"{agreement.title}: {agreement.terms} (parties: {', '.join(agreement.parties)})",
    )
