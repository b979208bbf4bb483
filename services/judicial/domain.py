"""Judicial rules, pure: which body may do what, and where a returned case goes.

Public security files transferred cases (or returns non-criminal ones to the regulator), the
procuratorate supervises and prosecutes, courts try cases and confirm mediation agreements.
A bureau that is asked to do another body's work refuses, with the reason.
"""

from enum import StrEnum
from types import MappingProxyType

from contracts.agencies import AgencyKind, JudicialRole, Registry, division_chain

__all__ = ["JUDICIAL_POWERS", "JudicialAct", "NotOurPower", "check_power", "regulator_for"]


class JudicialAct(StrEnum):
    FILE = "file"
    RETURN_NON_CRIMINAL = "return_non_criminal"
    SUPERVISE = "supervise"
    PROSECUTE = "prosecute"
    TRY = "try"
    RENDER_JUDGMENT = "render_judgment"
    CONFIRM_MEDIATION = "confirm_mediation"
    DECLINE_PROSECUTION = "decline_prosecution"
    """不起诉 (Criminal Procedure Law arts. 175–177)."""
    CHALLENGE_JUDGMENT = "challenge_judgment"
    """A court records an appeal it received (上诉); a procuratorate protests (抗诉)."""
    FINALIZE_JUDGMENT = "finalize_judgment"
    """A court records that its judgment became legally effective (生效)."""


_A = JudicialAct
JUDICIAL_POWERS: MappingProxyType[JudicialRole, frozenset[JudicialAct]] = MappingProxyType(
    {
        JudicialRole.PUBLIC_SECURITY: frozenset({_A.FILE, _A.RETURN_NON_CRIMINAL}),
        JudicialRole.PROCURATORATE: frozenset(
            {_A.SUPERVISE, _A.PROSECUTE, _A.DECLINE_PROSECUTION, _A.CHALLENGE_JUDGMENT}
        ),
        JudicialRole.COURT: frozenset(
            {
                _A.TRY,
                _A.RENDER_JUDGMENT,
                _A.CONFIRM_MEDIATION,
                _A.CHALLENGE_JUDGMENT,
                _A.FINALIZE_JUDGMENT,
            }
        ),
    }
)


class NotOurPower(ValueError):
    """The act belongs to another judicial body."""


def check_power(role: JudicialRole | None, act: JudicialAct) -> None:
    """Refuse ``act`` unless a body of ``role`` may perform it."""
    if role is None or act not in JUDICIAL_POWERS[role]:
        held = "no judicial role" if role is None else f"a {role.value.replace('_', ' ')}"
        raise NotOurPower(f"{act.value.replace('_', ' ')} is not a power of {held}")


def regulator_for(registry: Registry, region: str) -> str:
    """The administrative enforcement office a non-criminal case returns to: the one of the
    region, else of its city, else of its province (:func:`division_chain`)."""
    offices = registry.of_kind(AgencyKind.ENFORCEMENT)
    for wanted in division_chain(region):
        for agency in offices:
            if agency.region == wanted:
                return agency.id
    raise NotOurPower(f"no administrative enforcement office for region {region}")
