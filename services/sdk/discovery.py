"""Finding the service class that runs an agency, without a code change per new adapter.

A registry entry may name its service (``adapter = "services.mediation.app:MediationService"``);
otherwise the service catalogue the command line supplies decides by the agency's kind. The
class is imported by name, so the runtime never imports a service module statically.

>>> from contracts.agencies import Agency
>>> notary = Agency(id="notary-x", kind="enforcement", region="310000", name="X",
...                 adapter="services.notary.app:NotaryService")
>>> service_class_for(notary, {})
Traceback (most recent call last):
...
services.runtime.bus.errors.ConfigurationError: adapter 'services.notary.app:NotaryService': \
cannot import services.notary.app (No module named 'services.notary')
"""

import importlib
from collections.abc import Mapping

from contracts.agencies import Agency, AgencyKind
from services.runtime.bus import ConfigurationError
from services.sdk.service import AgencyService

__all__ = ["load_service_class", "service_class_for"]


def load_service_class(ref: str) -> type[AgencyService]:
    """Import ``"package.module:ClassName"`` and check it is an :class:`AgencyService`."""
    module_name, _, class_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"adapter {ref!r}: cannot import {module_name} ({exc})") from exc
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, AgencyService)):
        raise ConfigurationError(f"adapter {ref!r}: {class_name} is not an AgencyService class")
    if not isinstance(getattr(found, "service_name", None), str):
        raise ConfigurationError(f"adapter {ref!r}: {class_name} has no service_name")
    return found


def service_class_for(
    agency: Agency, catalogue: Mapping[AgencyKind, type[AgencyService]]
) -> type[AgencyService]:
    """The registry's ``adapter`` when set, else the catalogue's service for the kind."""
    if agency.adapter is not None:
        return load_service_class(agency.adapter)
    try:
        return catalogue[agency.kind]
    except KeyError:
        raise ConfigurationError(
            f"no service runs agencies of kind {agency.kind.value} "
            f'(name one with adapter = "module:Class" in the registry entry of {agency.id})'
        ) from None
