"""The compatibility check catches each kind of breaking change to a v1 contract, and lets
the compatible ones through — on schemas generated from real pydantic models, the way
``ipbus specs check`` compares committed and current schemas."""

from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.compatibility import BreakKind, breaking_changes, catalogue_breaks
from contracts.contract_schemas import contract_schemas


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class Colour2(StrEnum):
    RED = "red"


class Colour3(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Amount(BaseModel):
    value: Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class AmountNarrowCurrency(BaseModel):
    value: Decimal
    currency: str = Field(pattern=r"^CNY$")


class V1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    referral_id: str
    reason: str = Field(max_length=200)
    count: int
    colour: Colour
    note: str | None = None
    amounts: list[Amount] = Field(default_factory=list)


def _variant(**changes: Any) -> type[BaseModel]:
    """V1 with some fields replaced (``None`` removes one): a candidate v1 change."""
    fields: dict[str, Any] = {
        "referral_id": (str, ...),
        "reason": (str, Field(max_length=200)),
        "count": (int, ...),
        "colour": (Colour, ...),
        "note": (str | None, None),
        "amounts": (list[Amount], Field(default_factory=list)),
    }
    for name, spec in changes.items():
        if spec is None:
            del fields[name]
        else:
            fields[name] = spec
    model: type[BaseModel] = create_model("V1", __config__=ConfigDict(extra="forbid"), **fields)
    return model


def _kinds(new: type[BaseModel]) -> set[tuple[str, BreakKind]]:
    old_schema = V1.model_json_schema(mode="validation")
    new_schema = new.model_json_schema(mode="validation")
    return {(b.path, b.kind) for b in breaking_changes(old_schema, new_schema)}


REMOVED = BreakKind.REMOVED_FIELD
NARROWED = BreakKind.NARROWED_TYPE
REQUIRED = BreakKind.NEW_REQUIRED_FIELD
NARROWER_AMOUNTS = list[AmountNarrowCurrency]

BREAKING = [
    ("a field removed", _variant(note=None), {("note", REMOVED)}),
    ("string became integer", _variant(referral_id=(int, ...)), {("referral_id", NARROWED)}),
    (
        "a shorter maximum length",
        _variant(reason=(str, Field(max_length=9))),
        {("reason", NARROWED)},
    ),
    ("an enum value dropped", _variant(colour=(Colour2, ...)), {("colour", NARROWED)}),
    (
        "optional became required",
        _variant(note=(str, ...)),
        {("note", REQUIRED), ("note", NARROWED)},
    ),
    ("a new required field", _variant(court_ref=(str, ...)), {("court_ref", REQUIRED)}),
    (
        "a nested pattern narrowed",
        _variant(amounts=(NARROWER_AMOUNTS, [])),
        {("amounts[].currency", NARROWED)},
    ),
]

COMPATIBLE = [
    ("an optional field added", _variant(court_ref=(str | None, None))),
    ("an enum value added", _variant(colour=(Colour3, ...))),
    ("a longer maximum length", _variant(reason=(str, Field(max_length=400)))),
    ("integer widened to number", _variant(count=(float, ...))),
    ("a required field became optional", _variant(referral_id=(str | None, None))),
]


@pytest.mark.parametrize(("change", "new", "expected"), BREAKING, ids=[b[0] for b in BREAKING])
def test_a_breaking_change_to_a_v1_type_is_refused(
    change: str, new: type[BaseModel], expected: set[tuple[str, BreakKind]]
) -> None:
    assert _kinds(new) == expected, change


@pytest.mark.parametrize(("change", "new"), COMPATIBLE, ids=[c[0] for c in COMPATIBLE])
def test_a_compatible_change_passes(change: str, new: type[BaseModel]) -> None:
    assert _kinds(new) == set(), change


def test_the_current_contracts_are_compatible_with_themselves() -> None:
    schemas = contract_schemas()
    assert catalogue_breaks(schemas, contract_schemas()) == {}


def test_removing_a_field_from_a_real_event_schema_is_caught() -> None:
    committed = contract_schemas()
    current = contract_schemas()
    issued = current["events/ipbus.referral.issued.v1.json"]
    del issued["properties"]["legal_basis"]
    issued["required"].remove("legal_basis")
    found = catalogue_breaks(committed, current)
    assert [str(b) for b in found["events/ipbus.referral.issued.v1.json"]] == [
        "legal_basis: removed_field: legal_basis was removed"
    ]


def test_a_contract_that_disappears_is_caught() -> None:
    committed = contract_schemas()
    current = {k: v for k, v in committed.items() if "goods.released" not in k}
    found = catalogue_breaks(committed, current)
    assert list(found) == ["events/ipbus.goods.released.v1.json"]
    assert found["events/ipbus.goods.released.v1.json"][0].kind is BreakKind.REMOVED_CONTRACT
