"""Which service runs an agency of each kind."""

from types import MappingProxyType

from contracts.agencies import AgencyKind
from services.coordinator.app import CoordinatorService
from services.customs.app import CustomsService
from services.enforcement.app import EnforcementService
from services.holders.app import HolderDeskService
from services.judicial.app import JudicialService
from services.overseas.app import OverseasService
from services.sdk import ServiceCatalogue

__all__ = ["CATALOGUE", "SERVICES"]

CATALOGUE: ServiceCatalogue = MappingProxyType(
    {
        AgencyKind.COORDINATOR: CoordinatorService,
        AgencyKind.CUSTOMS: CustomsService,
        AgencyKind.ENFORCEMENT: EnforcementService,
        AgencyKind.JUDICIAL: JudicialService,
        AgencyKind.OVERSEAS: OverseasService,
        AgencyKind.RIGHTS_HOLDERS: HolderDeskService,
    }
)

SERVICES = MappingProxyType({cls.service_name: kind for kind, cls in CATALOGUE.items()})
"""Service name (``ipbus run NAME``) → the kind of agency it runs."""
