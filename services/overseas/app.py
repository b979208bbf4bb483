"""The overseas IP-dispute response centre adapter.

Receives ``overseas_assistance`` referrals (acknowledged automatically); its warnings and
the data-minimisation policy for what leaves the country come with the early-warning work.
"""

from typing import ClassVar

from services.runtime.agency_adapter import AgencyAdapter

__all__ = ["OverseasService"]


class OverseasService(AgencyAdapter):
    """The national overseas centre on the bus."""

    service_name: ClassVar[str] = "overseas"
