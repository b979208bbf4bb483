"""The division hierarchy: a district office finds its competent procuratorate and police."""

import pytest

from contracts.agencies import Agency, AgencyKind, JudicialRole, Registry, division_chain
from contracts.referrals import ReferralKind
from services.judicial.domain import NotOurPower, regulator_for
from services.sdk import SUPERVISED_KINDS, referral_supervisor


def _judicial(agency_id: str, role: JudicialRole, region: str) -> Agency:
    return Agency(id=agency_id, kind=AgencyKind.JUDICIAL, role=role, region=region, name=agency_id)


REGISTRY = Registry(
    agencies=(
        Agency(id="coordinator", kind=AgencyKind.COORDINATOR, region="100000", name="C"),
        Agency(id="amr-pudong", kind=AgencyKind.ENFORCEMENT, region="310115", name="AMR Pudong"),
        Agency(id="amr-minhang", kind=AgencyKind.ENFORCEMENT, region="310112", name="AMR Minhang"),
        Agency(id="amr-suzhou", kind=AgencyKind.ENFORCEMENT, region="320500", name="AMR Suzhou"),
        Agency(id="amr-tibet", kind=AgencyKind.ENFORCEMENT, region="540000", name="AMR Tibet"),
        _judicial("procuratorate-pudong", JudicialRole.PROCURATORATE, "310115"),
        _judicial("procuratorate-shanghai", JudicialRole.PROCURATORATE, "310000"),
        _judicial("psb-shanghai-city", JudicialRole.PUBLIC_SECURITY, "310100"),
        _judicial("procuratorate-national", JudicialRole.PROCURATORATE, "100000"),
    )
)


@pytest.mark.parametrize(
    ("region", "chain"),
    [
        ("310115", ("310115", "310100", "310000", "100000")),
        ("310100", ("310100", "310000", "100000")),
        ("310000", ("310000", "100000")),
        ("320583", ("320583", "320500", "320000", "100000")),
        ("100000", ("100000",)),
    ],
)
def test_a_division_code_climbs_district_city_province_nation(
    region: str, chain: tuple[str, ...]
) -> None:
    assert division_chain(region) == chain


@pytest.mark.parametrize(
    ("region", "procuratorate", "police"),
    [
        ("310115", "procuratorate-pudong", "psb-shanghai-city"),  # its own district
        ("310112", "procuratorate-shanghai", "psb-shanghai-city"),  # city, then province
        ("310100", "procuratorate-shanghai", "psb-shanghai-city"),
        ("320500", "procuratorate-national", None),  # nothing in Jiangsu: national, or none
    ],
)
def test_the_competent_body_is_found_at_the_nearest_level(
    region: str, procuratorate: str, police: str | None
) -> None:
    found = REGISTRY.procuratorate_for(region)
    assert found is not None
    assert found.id == procuratorate
    bureau = REGISTRY.public_security_for(region)
    assert (bureau.id if bureau else None) == police


def test_a_district_transfer_is_supervised_by_the_districts_procuratorate() -> None:
    kind = ReferralKind.ADMIN_TO_CRIMINAL
    assert referral_supervisor(REGISTRY, "amr-pudong", "psb-shanghai-city", kind) == (
        "procuratorate-shanghai"  # the police are the city's: their nearest procuratorate
    )
    assert referral_supervisor(REGISTRY, "amr-minhang", "amr-pudong", kind) == (
        "procuratorate-pudong"
    )


@pytest.mark.parametrize("kind", list(ReferralKind), ids=lambda k: k.value)
def test_the_procuratorate_supervises_only_criminal_filing_and_the_way_back(
    kind: ReferralKind,
) -> None:
    supervisor = referral_supervisor(REGISTRY, "amr-minhang", "psb-shanghai-city", kind)
    expected = kind in {
        ReferralKind.ADMIN_TO_CRIMINAL,
        ReferralKind.CUSTOMS_TO_CRIMINAL,
        ReferralKind.CRIMINAL_TO_ADMIN,
    }
    assert (supervisor is not None) is expected
    assert (kind in SUPERVISED_KINDS) is expected


def test_a_city_police_bureau_returns_a_case_to_the_nearest_regulator() -> None:
    assert regulator_for(REGISTRY, "310115") == "amr-pudong"
    assert regulator_for(REGISTRY, "320583") == "amr-suzhou"  # district → its city's office
    with pytest.raises(NotOurPower, match="no administrative enforcement office"):
        regulator_for(REGISTRY, "440300")
