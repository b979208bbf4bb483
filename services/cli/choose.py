"""Which service class and agency ``ipbus run SERVICE [--agency ID]`` means.

Services are the catalogue's (one per agency kind) plus any a registry entry names with
``adapter = "module:Class"`` — so a new adapter runs without editing the command line.
"""

from contracts.agencies import Registry
from services.cli.catalogue import CATALOGUE
from services.runtime.bus import ConfigurationError
from services.sdk import AgencyService, service_class_for

__all__ = ["choose_service", "service_names"]


def _services_by_agency(registry: Registry) -> dict[str, type[AgencyService]]:
    return {agency.id: service_class_for(agency, CATALOGUE) for agency in registry.agencies}


def service_names(registry: Registry) -> list[str]:
    """Every service name that runs some agency of ``registry``."""
    return sorted({cls.service_name for cls in _services_by_agency(registry).values()})


def choose_service(
    registry: Registry, service: str, agency_id: str | None
) -> tuple[type[AgencyService], str]:
    """The class of ``service`` and the agency it should run; a clear error otherwise."""
    everything = _services_by_agency(registry).items()
    runs = {a: cls for a, cls in everything if cls.service_name == service}
    if not runs:
        raise ConfigurationError(
            f"unknown service {service!r}; choose one of {', '.join(service_names(registry))}"
        )
    if agency_id is None:
        if len(runs) != 1:
            raise ConfigurationError(
                f"{len(runs)} agencies run {service}; name one with --agency ({', '.join(runs)})"
            )
        agency_id = next(iter(runs))
    if agency_id not in runs:
        raise ConfigurationError(f"{agency_id} is not run by the {service} service")
    return runs[agency_id], agency_id
