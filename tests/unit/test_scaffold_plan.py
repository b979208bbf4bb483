"""Planning a scaffolded adapter: names, registry checks and import contracts (pure parts)."""

from pathlib import Path

import pytest

from contracts.agencies import AgencyKind
from services.cli.scaffold import IMPORT_CONTRACTS, add_to_import_contracts, plan_adapter
from services.runtime.bus import ConfigurationError
from services.runtime.identity import load_registry
from tests.conftest import REGISTRY

REPO = Path(__file__).resolve().parents[2]


def test_a_plan_names_the_class_and_the_registry_entry() -> None:
    plan = plan_adapter(load_registry(REGISTRY), "credit_office", kind=AgencyKind.ENFORCEMENT)
    assert plan.class_name == "CreditOfficeService"
    assert plan.agency.id == "credit-office"
    assert plan.adapter_ref == "services.credit_office.app:CreditOfficeService"
    assert plan.agency.adapter == plan.adapter_ref


@pytest.mark.parametrize(
    ("name", "kind", "agency_id", "message"),
    [
        ("Notary", AgencyKind.ENFORCEMENT, None, "must match"),
        ("notary", AgencyKind.COORDINATOR, None, "exactly one coordinator"),
        ("notary", AgencyKind.CUSTOMS, "customs-shanghai", "already in the registry"),
    ],
)
def test_a_bad_request_is_refused_before_anything_is_written(
    name: str, kind: AgencyKind, agency_id: str | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        plan_adapter(load_registry(REGISTRY), name, kind=kind, agency_id=agency_id)


def test_the_new_package_joins_every_service_import_contract_once() -> None:
    text = (REPO / "pyproject.toml").read_text()
    updated = add_to_import_contracts(text, "services.notary")
    assert updated.count('"services.notary"') == len(IMPORT_CONTRACTS)
    assert add_to_import_contracts(updated, "services.notary") == updated
