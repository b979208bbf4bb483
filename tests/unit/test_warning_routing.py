"""Warning routing: which agencies match which warning, and why (table-driven)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.agencies import Agency, AgencyInterests, Registry, WarningCategory, parse_registry
from contracts.warnings import Severity, WarningIssued, WarningTargets
from services.coordinator.warnings.routing import match_agency, route_warning
from tests.conftest import REGISTRY

WARNING_ID = "01J0000000000000000000000W"


def _warning(category: str = "counterfeit_route", **targets: Any) -> WarningIssued:
    return WarningIssued(
        warning_id=WARNING_ID,
        category=WarningCategory(category),
        severity=Severity.HIGH,
        title="t",
        body="b",
        targets=WarningTargets.model_validate(targets),
        expires_at=datetime(2026, 4, 1, tzinfo=UTC),
    )


def _registry() -> Registry:
    return parse_registry(REGISTRY.read_text())


ROUTES = [
    pytest.param(
        _warning(
            kinds=["customs", "enforcement"],
            regions=["310000"],
            ip_types=["trademark"],
            hs_prefixes=["6404"],
        ),
        "overseas-center",
        {"customs-shanghai", "amr-shanghai"},
        id="counterfeit shoes into Shanghai: its port and regulator only",
    ),
    pytest.param(
        _warning(kinds=["customs"], hs_prefixes=["8517"]),
        "overseas-center",
        {"customs-shanghai", "customs-guangdong"},
        id="phones anywhere: both customs, HS 85 interest covers 8517",
    ),
    pytest.param(
        _warning(kinds=["customs"], hs_prefixes=["9503"]),
        "overseas-center",
        {"customs-guangdong"},
        id="toys: only the customs office interested in chapter 95",
    ),
    pytest.param(
        _warning(kinds=["customs"], ip_types=["copyright"]),
        "overseas-center",
        {"customs-guangdong"},
        id="copyright: Shanghai customs watches trademarks and patents only",
    ),
    pytest.param(
        _warning("overseas_litigation"),
        "customs-shanghai",
        {"customs-guangdong", "overseas-center", "court-shanghai-ip", "court-guangzhou-ip"},
        id="no targets: everyone interested in the category, never the issuer",
    ),
    pytest.param(
        _warning("repeat_infringer", regions=["440000"]),
        "coordinator",
        {"amr-guangdong", "psb-guangdong", "procuratorate-guangdong", "court-guangzhou-ip"},
        id="repeat infringer in Guangdong: its regulator, police, procuratorate and court",
    ),
    pytest.param(
        _warning("overseas_squatting", kinds=["judicial"], regions=["310000"]),
        "overseas-center",
        {"court-shanghai-ip"},
        id="squatting for Shanghai judiciary: only the court has no category filter",
    ),
    pytest.param(
        _warning("seizure_trend", kinds=["coordinator"]),
        "customs-shanghai",
        set(),
        id="the coordinator never receives a warning",
    ),
]


@pytest.mark.parametrize(("warning", "issuer", "expected"), ROUTES)
def test_a_warning_reaches_exactly_these_agencies(
    warning: WarningIssued, issuer: str, expected: set[str]
) -> None:
    routed = {m.agency_id for m in route_warning(warning, _registry(), issuer=issuer)}
    assert routed == expected


def _agency(kind: str = "customs", region: str = "310000", **interests: Any) -> Agency:
    return Agency(
        id="probe-agency",
        kind=kind,
        region=region,
        name="Probe",
        interests=AgencyInterests.model_validate(interests),
    )


REASONS = [
    pytest.param(
        _warning(),
        _agency(),
        (
            "category: no category preference",
            "kind: any kind targeted",
            "region: any region targeted",
            "ip_type: any IP type targeted",
            "hs_prefix: any goods targeted",
        ),
        id="open warning, open agency",
    ),
    pytest.param(
        _warning(
            kinds=["customs"],
            regions=["440000"],
            ip_types=["patent", "trademark"],
            hs_prefixes=["64", "8517"],
        ),
        _agency(
            categories=["counterfeit_route"],
            regions=["440000"],
            ip_types=["trademark"],
            hs_prefixes=["640411", "85"],
        ),
        (
            "category: interested in counterfeit_route",
            "kind: customs targeted",
            "region: interested in 440000",
            "ip_type: interested in trademark",
            "hs_prefix: 64~640411, 8517~85",
        ),
        id="every axis matched by interest",
    ),
    pytest.param(
        _warning(regions=["310000"]),
        _agency(region="100000"),
        (
            "category: no category preference",
            "kind: any kind targeted",
            "region: national agency",
            "ip_type: any IP type targeted",
            "hs_prefix: any goods targeted",
        ),
        id="a national agency is in every region",
    ),
    pytest.param(
        _warning(regions=["310000"], ip_types=["trademark"], hs_prefixes=["64"]),
        _agency(region="310000"),
        (
            "category: no category preference",
            "kind: any kind targeted",
            "region: agency region 310000 targeted",
            "ip_type: no IP type preference",
            "hs_prefix: no HS preference",
        ),
        id="an agency without preferences takes targeted warnings in its region",
    ),
]


@pytest.mark.parametrize(("warning", "agency", "reasons"), REASONS)
def test_a_match_says_why_on_every_axis(
    warning: WarningIssued, agency: Agency, reasons: tuple[str, ...]
) -> None:
    assert match_agency(warning, agency) == reasons


MISSES = [
    pytest.param(
        _warning("seizure_trend"),
        _agency(categories=["counterfeit_route"]),
        id="category not of interest",
    ),
    pytest.param(_warning(kinds=["enforcement"]), _agency(), id="kind not targeted"),
    pytest.param(
        _warning(regions=["440000"]),
        _agency(regions=["310000"]),
        id="region neither the agency's nor of interest",
    ),
    pytest.param(
        _warning(ip_types=["copyright"]), _agency(ip_types=["patent"]), id="IP type not of interest"
    ),
    pytest.param(
        _warning(hs_prefixes=["6404"]),
        _agency(hs_prefixes=["6403", "85"]),
        id="sibling HS headings do not overlap",
    ),
]


@pytest.mark.parametrize(("warning", "agency"), MISSES)
def test_one_failing_axis_is_enough_to_miss(warning: WarningIssued, agency: Agency) -> None:
    assert match_agency(warning, agency) is None
