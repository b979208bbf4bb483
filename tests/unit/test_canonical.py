"""``canonical_json`` writes exactly what the RFC 8785 reference writes, faster when it can."""

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from contracts.canonical import (
    MAX_DEPTH,
    NotCanonical,
    canonical_json,
    canonical_with_and_without,
)

SAFE = 2**53 - 1
text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
scalars = st.none() | st.booleans() | st.integers(-SAFE, SAFE) | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(text, inner), max_leaves=30
)


@given(json_values)
def test_float_free_json_is_written_as_rfc8785_writes_it(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@given(st.dictionaries(text, st.floats(allow_nan=False, allow_infinity=False) | scalars))
def test_floats_and_any_key_fall_back_to_the_reference(value: dict[str, Any]) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_beyond_the_basic_plane_sort_by_utf16_code_units() -> None:
    value = {"\U0001f600": 1, "\uff61": 2}  # U+1F600 is D83D DE00 in UTF-16: before U+FF61
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).index("\U0001f600".encode()) < canonical_json(value).index(
        "\uff61".encode()
    )


def test_integers_beyond_javascript_precision_are_refused_as_the_reference_refuses_them() -> None:
    assert canonical_json({"n": SAFE}) == b'{"n":9007199254740991}'
    assert canonical_json({"n": -SAFE}) == b'{"n":-9007199254740991}'
    for n in (SAFE + 1, -SAFE - 1, 10**400, -(10**4000)):
        with pytest.raises(NotCanonical, match="beyond"):
            canonical_json({"n": n})


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({"x": float("nan")}, "not finite"),
        ({"x": [float("inf")]}, "not finite"),
        ({"x": -float("inf")}, "not finite"),
        ({"x": "a\ud800b"}, "lone surrogate"),
        ({"\udc00": 1}, "lone surrogate"),
        ({"\U0001f600\ud800": 1.5}, "no canonical form"),  # reference path: surrogate key
        ({"x": "a\x00b"}, "U\\+0000"),
        ({"a\x00": 1}, "U\\+0000"),
        ({1: 2}, "not a string"),
        ({"x": {1, 2}}, "not a JSON value"),
        ({"x": b"bytes"}, "not a JSON value"),
    ],
)
def test_what_has_no_canonical_form_is_refused_with_one_error_type(value: Any, what: str) -> None:
    with pytest.raises(NotCanonical, match=what):
        canonical_json(value)


def test_nesting_is_bounded() -> None:
    def nested(depth: int) -> Any:
        value: Any = 1
        for _ in range(depth):
            value = [value]
        return value

    assert canonical_json(nested(MAX_DEPTH)) == b"[" * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH
    with pytest.raises(NotCanonical, match="deeper"):
        canonical_json(nested(MAX_DEPTH + 1))
    with pytest.raises(NotCanonical, match="deeper"):
        canonical_json(nested(10**5))  # no RecursionError: refused at the bound


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@given(
    st.dictionaries(text, json_values | st.floats(allow_nan=False, allow_infinity=False)),
    st.sampled_from(["signature", "a", "\U0001f600", ""]),
)
def test_one_pass_gives_the_object_with_and_without_a_key_as_two_passes_would(
    value: dict[str, Any], key: str
) -> None:
    whole, without = canonical_with_and_without(value, key)
    assert whole == rfc8785.dumps(value)
    assert without == rfc8785.dumps({k: v for k, v in value.items() if k != key})


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({"signature": "a\ud800"}, "lone surrogate"),  # the left-out member is checked too
        ({"signature": float("nan")}, "not finite"),
        ({"x": 1, "signature": {"n": 2**60}}, "beyond"),
        ({"data": _nested(MAX_DEPTH)}, "deeper"),  # fine alone, one level too deep inside
    ],
)
def test_one_pass_refuses_what_canonical_json_refuses(value: dict[str, Any], what: str) -> None:
    with pytest.raises(NotCanonical, match=what):
        canonical_with_and_without(value, "signature")
    with pytest.raises(NotCanonical, match=what):
        canonical_json(value)
