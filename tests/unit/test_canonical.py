"""``canonical_json`` writes exactly what the RFC 8785 reference writes, faster when it can."""

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from contracts.canonical import canonical_json

SAFE = 2**53 - 1
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
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
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"n": SAFE + 2})
