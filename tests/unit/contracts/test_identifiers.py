"""Identifiers: every validated string type accepts the real thing and refuses look-alikes."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.identifiers import (
    ISO_4217_CODES,
    CreditCode,
    CurrencyCode,
    HsCode,
    HsPrefix,
    LocalRef,
    Money,
    RegionCode,
    ResidentId,
    Sha256Hex,
    credit_code_check_char,
    is_credit_code,
    is_resident_id,
)

VALID_CREDIT_CODES = ["91350100M000100Y43", "91110000802100433B", "91440300708461136T"]


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_a_real_credit_code_is_accepted(code: str) -> None:
    assert is_credit_code(code)
    assert TypeAdapter(CreditCode).validate_python(code) == code


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("91350100m000100y43", "upper-case"),
        ("91350100I000100Y43", "alphabet"),
        ("91350100O000100Y43", "alphabet"),
        ("", "18 characters"),
    ],
)
def test_a_malformed_credit_code_is_refused_with_the_reason(code: str, why: str) -> None:
    assert not is_credit_code(code)
    with pytest.raises(ValidationError, match=why):
        TypeAdapter(CreditCode).validate_python(code)


def test_the_check_character_of_the_fujian_example_is_3() -> None:
    assert credit_code_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    ("first17", "check"),
    [("0" * 17, "0"), ("1" + "0" * 16, "Y"), ("2" + "0" * 16, "X"), ("0" * 16 + "1", "3")],
)
def test_the_check_character_wraps_31_to_0_and_counts_down_the_alphabet(
    first17: str, check: str
) -> None:
    # sum 0 -> 31 - 0 = 31 -> "0"; sum 1 -> 30 -> "Y"; sum 2 -> 29 -> "X"; sum 28 -> 3 -> "3"
    assert credit_code_check_char(first17) == check


@pytest.mark.parametrize("bad", ["123", "9135010OM000100Y4", "91350100M000100Y4X"])
def test_the_check_character_needs_17_characters_from_the_alphabet(bad: str) -> None:
    with pytest.raises(ValueError, match="17 characters"):
        credit_code_check_char(bad)


@pytest.mark.parametrize("value", [None, 91350100, b"91350100M000100Y43"])
def test_only_strings_can_be_credit_codes_or_resident_ids(value: object) -> None:
    assert not is_credit_code(value)
    assert not is_resident_id(value)


@pytest.mark.parametrize("rid", ["11010519491231002X", "440524188001010014"])
def test_a_valid_resident_id_is_accepted(rid: str) -> None:
    assert is_resident_id(rid)
    assert TypeAdapter(ResidentId).validate_python(rid) == rid


@pytest.mark.parametrize(
    ("rid", "why"),
    [
        ("110105194912310021", "check character"),
        ("11010519491231002x", "upper-case"),
        ("1101051949123100X2", "17 digits"),
        ("11010519491231002", "17 digits"),
        ("A1010519491231002X", "17 digits"),
    ],
)
def test_a_malformed_resident_id_is_refused(rid: str, why: str) -> None:
    assert not is_resident_id(rid)
    with pytest.raises(ValidationError, match=why):
        TypeAdapter(ResidentId).validate_python(rid)


PATTERNED: list[tuple[Any, str, bool]] = [
    (HsCode, "640399", True),
    (HsCode, "6403990090", True),
    (HsCode, "64039", False),
    (HsCode, "64039900901", False),
    (HsCode, "6403.99", False),
    (HsPrefix, "64", True),
    (HsPrefix, "6", False),
    (HsPrefix, "64a", False),
    (RegionCode, "310000", True),
    (RegionCode, "100000", True),
    (RegionCode, "31000", False),
    (RegionCode, "3100000", False),
    (Sha256Hex, "a" * 64, True),
    (Sha256Hex, "A" * 64, False),
    (Sha256Hex, "a" * 63, False),
    (Sha256Hex, "g" * 64, False),
    (CurrencyCode, "CNY", True),
    (CurrencyCode, "XCG", True),
    (CurrencyCode, "cny", False),
    (CurrencyCode, "HRK", False),
    (CurrencyCode, "ABC", False),
    (LocalRef, "沪市监处〔2026〕12号", True),
    (LocalRef, "   ", False),
    (LocalRef, "x" * 65, False),
]


@pytest.mark.parametrize(("kind", "value", "ok"), PATTERNED)
def test_a_patterned_identifier_accepts_exactly_its_shape(kind: Any, value: str, ok: bool) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(kind)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


def test_the_currency_list_is_the_full_current_iso_4217_list() -> None:
    assert 170 <= len(ISO_4217_CODES) <= 190
    assert {"CNY", "USD", "EUR", "HKD", "JPY"} <= ISO_4217_CODES
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in ISO_4217_CODES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.50", Decimal("12.50")), (12, Decimal(12)), (Decimal("0.0001"), Decimal("0.0001"))],
)
def test_money_accepts_strings_integers_and_decimals(value: object, expected: Decimal) -> None:
    assert Money.model_validate({"value": value, "currency": "CNY"}).value == expected


def test_money_serialises_its_amount_as_a_json_string() -> None:
    money = Money(value="12.50", currency="CNY")
    assert money.model_dump(mode="json") == {"value": "12.50", "currency": "CNY"}
    assert Money.model_validate_json(money.model_dump_json()) == money


@pytest.mark.parametrize("value", [12.5, 12.0, True])
def test_money_refuses_a_python_float(value: object) -> None:
    with pytest.raises(ValidationError, match="never floats"):
        Money.model_validate({"value": value, "currency": "CNY"})


@pytest.mark.parametrize("value", ["12.5", "12.0", "1e2"])
def test_money_refuses_a_json_float(value: str) -> None:
    with pytest.raises(ValidationError, match="never floats"):
        Money.model_validate_json(f'{{"value": {value}, "currency": "CNY"}}')


def test_money_accepts_a_json_integer_or_string() -> None:
    assert Money.model_validate_json('{"value": 12, "currency": "CNY"}').value == 12
    assert Money.model_validate_json('{"value": "12.5", "currency": "CNY"}').value == Decimal(
        "12.5"
    )


@pytest.mark.parametrize(
    "data",
    [
        {"value": "-0.01", "currency": "CNY"},
        {"value": "1.00001", "currency": "CNY"},
        {"value": "NaN", "currency": "CNY"},
        {"value": "Infinity", "currency": "CNY"},
        {"value": "ten", "currency": "CNY"},
        {"value": "1", "currency": "RMB"},
        {"value": "1"},
        {"value": "1", "currency": "CNY", "rate": "7.1"},
    ],
)
def test_money_refuses_bad_amounts_currencies_and_extra_fields(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate(data)


def test_money_is_frozen() -> None:
    money = Money(value="1", currency="CNY")
    with pytest.raises(ValidationError):
        money.value = Decimal(2)  # type: ignore[misc]
