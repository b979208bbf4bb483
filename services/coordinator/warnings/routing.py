"""Warning routing, pure: which agencies a warning goes to, and why.

A warning's targets and an agency's interests are filters where an empty list means "any".
An agency matches when every axis matches; each axis contributes one reason, so the
coordinator can show an officer *why* a warning reached (or would reach) a desk.

* category — the agency's interests list the category (or list none);
* kind     — the warning targets the agency's kind (or no kind);
* region   — the agency is in a targeted region, is national, or is interested in one;
* ip type  — a targeted IP type is among the agency's interests (or either side is open);
* HS code  — a targeted HS prefix and an interest prefix overlap (one starts the other).

The coordinator and the issuer never receive the issuer's own warning.
"""

from dataclasses import dataclass
from enum import StrEnum

from contracts.agencies import Agency, AgencyKind, Registry
from contracts.identifiers import NATIONAL_REGION
from contracts.warnings import WarningIssued

__all__ = ["Axis", "RouteMatch", "match_agency", "route_warning"]


class Axis(StrEnum):
    CATEGORY = "category"
    KIND = "kind"
    REGION = "region"
    IP_TYPE = "ip_type"
    HS_PREFIX = "hs_prefix"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """One recipient and the reason on every axis."""

    agency_id: str
    reasons: tuple[str, ...]


def _overlap(targets: list[str], interests: list[str]) -> list[str]:
    return [t for t in targets if t in interests]


def _category(warning: WarningIssued, agency: Agency) -> str | None:
    wanted = agency.interests.categories
    if not wanted:
        return "category: no category preference"
    if warning.category in wanted:
        return f"category: interested in {warning.category.value}"
    return None


def _kind(warning: WarningIssued, agency: Agency) -> str | None:
    kinds = warning.targets.kinds
    if not kinds:
        return "kind: any kind targeted"
    if agency.kind in kinds:
        return f"kind: {agency.kind.value} targeted"
    return None


def _region(warning: WarningIssued, agency: Agency) -> str | None:
    regions = warning.targets.regions
    if not regions:
        return "region: any region targeted"
    if agency.region in regions:
        return f"region: agency region {agency.region} targeted"
    if agency.region == NATIONAL_REGION:
        return "region: national agency"
    shared = _overlap(regions, agency.interests.regions)
    if shared:
        return f"region: interested in {', '.join(shared)}"
    return None


def _ip_type(warning: WarningIssued, agency: Agency) -> str | None:
    targeted = [t.value for t in warning.targets.ip_types]
    wanted = [t.value for t in agency.interests.ip_types]
    if not targeted:
        return "ip_type: any IP type targeted"
    if not wanted:
        return "ip_type: no IP type preference"
    shared = _overlap(targeted, wanted)
    return f"ip_type: interested in {', '.join(shared)}" if shared else None


def _hs_prefix(warning: WarningIssued, agency: Agency) -> str | None:
    targeted = warning.targets.hs_prefixes
    wanted = agency.interests.hs_prefixes
    if not targeted:
        return "hs_prefix: any goods targeted"
    if not wanted:
        return "hs_prefix: no HS preference"
    pairs = [f"{t}~{w}" for t in targeted for w in wanted if t.startswith(w) or w.startswith(t)]
    return f"hs_prefix: {', '.join(pairs)}" if pairs else None


_AXES = (
    (Axis.CATEGORY, _category),
    (Axis.KIND, _kind),
    (Axis.REGION, _region),
    (Axis.IP_TYPE, _ip_type),
    (Axis.HS_PREFIX, _hs_prefix),
)


def match_agency(warning: WarningIssued, agency: Agency) -> tuple[str, ...] | None:
    """The reasons ``agency`` should receive ``warning``, or ``None`` if some axis fails."""
    reasons: list[str] = []
    for _axis, rule in _AXES:
        reason = rule(warning, agency)
        if reason is None:
            return None
        reasons.append(reason)
    return tuple(reasons)


_NOT_WARNED = frozenset({AgencyKind.COORDINATOR, AgencyKind.RIGHTS_HOLDERS})
"""The hub, and the rights-holder desks: private parties' desks, not agencies that act."""


def route_warning(warning: WarningIssued, registry: Registry, *, issuer: str) -> list[RouteMatch]:
    """Every agency ``warning`` goes to, in registry order, with its reasons."""
    matches: list[RouteMatch] = []
    for agency in registry.agencies:
        if agency.kind in _NOT_WARNED or agency.id == issuer:
            continue
        reasons = match_agency(warning, agency)
        if reasons is not None:
            matches.append(RouteMatch(agency.id, reasons))
    return matches
