"""The agency registry: the TOML of DESIGN §2 parses, dumps back identically, errors name names."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.agencies import (
    Agency,
    AgencyInterests,
    AgencyKind,
    IpType,
    JudicialRole,
    Registry,
    RegistryError,
    UnknownAgency,
    WarningCategory,
    dump_registry,
    parse_registry,
)

KEY_A = "U" + "A" * 55
KEY_B = "U" + "B2" * 27 + "C"

DESIGN_EXAMPLE = f"""
[[agencies]]
id = "customs-shanghai"
kind = "customs"
region = "310000"
name = "Shanghai Customs"
public_key = "{KEY_A}"
[agencies.interests]
regions = ["310000"]
ip_types = ["trademark", "patent"]
hs_prefixes = ["64", "42"]
categories = ["counterfeit_route", "seizure_trend", "overseas_litigation"]

[[agencies]]
id = "procuratorate-shanghai"
kind = "judicial"
role = "procuratorate"
region = "310000"
name = "上海市人民检察院"

[[agencies]]
id = "procuratorate-national"
kind = "judicial"
role = "procuratorate"
region = "100000"
name = "Supreme People's Procuratorate"

[[agencies]]
id = "amr-shanghai"
kind = "enforcement"
region = "310000"
name = "Shanghai \\"AMR\\"\\tOffice"

[[agencies]]
id = "coordinator"
kind = "coordinator"
region = "100000"
name = "Coordinator"
"""


SECOND_COORDINATOR = """
[[agencies]]
id = "coordinator-backup"
kind = "coordinator"
region = "100000"
name = "Backup coordinator"
"""


@pytest.fixture
def registry() -> Registry:
    return parse_registry(DESIGN_EXAMPLE)


def test_the_design_example_parses_with_its_interests(registry: Registry) -> None:
    customs = registry.get("customs-shanghai")
    assert customs.kind is AgencyKind.CUSTOMS
    assert customs.public_key == KEY_A
    assert customs.interests.ip_types == [IpType.TRADEMARK, IpType.PATENT]
    assert customs.interests.categories[0] is WarningCategory.COUNTERFEIT_ROUTE
    assert registry.get("amr-shanghai").name == 'Shanghai "AMR"\tOffice'
    assert registry.get("amr-shanghai").interests == AgencyInterests()


def test_a_registry_dumps_and_parses_back_to_the_same_registry(registry: Registry) -> None:
    assert parse_registry(dump_registry(registry)) == registry


_names = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s != "")


@given(name=_names)
def test_any_display_name_survives_the_round_trip(name: str) -> None:
    registry = Registry(
        agencies=(
            Agency(id="coordinator", kind=AgencyKind.COORDINATOR, region="100000", name=name),
        )
    )
    assert parse_registry(dump_registry(registry)) == registry


def test_get_of_an_unknown_agency_raises_a_clear_key_error(registry: Registry) -> None:
    with pytest.raises(UnknownAgency, match="'customs-beijing' is not in the registry"):
        registry.get("customs-beijing")
    assert issubclass(UnknownAgency, KeyError)


def test_membership_and_kind_lookup_work(registry: Registry) -> None:
    assert "amr-shanghai" in registry
    assert "amr-beijing" not in registry
    assert [a.id for a in registry.of_kind(AgencyKind.JUDICIAL)] == [
        "procuratorate-shanghai",
        "procuratorate-national",
    ]


@pytest.mark.parametrize(
    ("region", "expected"),
    [("310000", "procuratorate-shanghai"), ("110000", "procuratorate-national")],
)
def test_the_procuratorate_is_the_regional_one_else_the_national_one(
    registry: Registry, region: str, expected: str
) -> None:
    found = registry.procuratorate_for(region)
    assert found is not None
    assert found.id == expected


def test_there_is_no_procuratorate_when_none_is_registered() -> None:
    only = Registry(
        agencies=(Agency(id="coordinator", kind=AgencyKind.COORDINATOR, region="100000", name="C"),)
    )
    assert only.procuratorate_for("310000") is None


def test_new_public_keys_replace_old_ones_which_stay_valid_as_previous(registry: Registry) -> None:
    updated = registry.with_public_keys({"customs-shanghai": KEY_B, "coordinator": KEY_A})
    assert updated.get("customs-shanghai").public_key == KEY_B
    assert updated.get("customs-shanghai").previous_public_key == KEY_A
    assert updated.get("coordinator").public_key == KEY_A
    assert updated.get("coordinator").previous_public_key is None
    assert registry.get("customs-shanghai").public_key == KEY_A  # the original is untouched
    assert parse_registry(dump_registry(updated)) == updated


def test_public_keys_for_an_unknown_agency_are_refused(registry: Registry) -> None:
    with pytest.raises(UnknownAgency):
        registry.with_public_keys({"nobody": KEY_A})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[agencies]\n", "not valid TOML"),
        ("", "no \\[\\[agencies\\]\\]"),
        ('owner = "x"\n' + DESIGN_EXAMPLE, "unexpected top-level keys.*owner"),
        (DESIGN_EXAMPLE.replace('kind = "customs"', 'kind = "tax"'), "'customs-shanghai': kind"),
        (
            DESIGN_EXAMPLE.replace('region = "310000"', 'region = "31"', 1),
            "customs-shanghai.*region",
        ),
        (DESIGN_EXAMPLE.replace(KEY_A, "Nxyz"), "'customs-shanghai': public_key"),
        (DESIGN_EXAMPLE.replace('"64", "42"', '"6"'), "interests.hs_prefixes"),
        (DESIGN_EXAMPLE.replace('name = "Coordinator"', 'name = "C"\ncolour = "red"'), "colour"),
        (
            DESIGN_EXAMPLE.replace('id = "amr-shanghai"', 'id = "customs-shanghai"'),
            "more than once",
        ),
        (
            DESIGN_EXAMPLE.replace('kind = "coordinator"', 'kind = "overseas"'),
            "exactly one coordinator",
        ),
        (DESIGN_EXAMPLE + SECOND_COORDINATOR, "need exactly one coordinator agency, found 2"),
        (
            DESIGN_EXAMPLE.replace('id = "amr-shanghai"', 'id = "AMR.Shanghai"'),
            "agency 'AMR.Shanghai': id",
        ),
        ('[[agencies]]\nkind = "customs"\n', "agency #1: id"),
        (
            DESIGN_EXAMPLE.replace('kind = "enforcement"', 'kind = "enforcement"\nrole = "court"'),
            "role is only for judicial",
        ),
    ],
)
def test_a_bad_registry_is_refused_naming_the_agency_and_field(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry(text)


def test_a_registry_error_is_a_value_error() -> None:
    assert issubclass(RegistryError, ValueError)


def test_a_judicial_agency_may_carry_its_role_and_others_may_not() -> None:
    court = Agency(id="court-sh", kind="judicial", region="310000", name="Court", role="court")
    assert court.role is JudicialRole.COURT
    with pytest.raises(ValidationError, match="role is only for judicial"):
        Agency(id="amr-sh", kind="enforcement", region="310000", name="A", role="court")
