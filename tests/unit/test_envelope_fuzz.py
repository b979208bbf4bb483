"""Fuzzing the envelope parser: whatever arrives, it answers with a value or a clean refusal."""

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.envelope import EnvelopeRejected, RejectReason, decode_event
from contracts.identifiers import new_ulid
from contracts.subjects import event_subject
from tests.unit.builders import AMR, CUSTOMS, envelope_for, goods_detained, wire

VALID_BODY, VALID_SUBJECT = wire(envelope_for(goods_detained(new_ulid()), case_id=new_ulid()))
VALID: dict[str, Any] = json.loads(VALID_BODY)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
subjects = st.one_of(
    st.just(VALID_SUBJECT),
    st.text(max_size=80),
    st.builds(
        lambda s, r, t: f"ipbus.v1.{s}.{r}.{t}",
        st.sampled_from([CUSTOMS, AMR, "X", ""]),
        st.sampled_from([AMR, "coordinator", "a.b"]),
        st.sampled_from(["goods.detained", "case.opened", "nope", ""]),
    ),
)


def _decode(body: bytes, subject: str) -> None:
    """Decoded, or refused with a reason and a detail; any other exception fails the test."""
    refusal: EnvelopeRejected | None = None
    try:
        decode_event(body, subject)
    except EnvelopeRejected as refused:
        refusal = refused
    if refusal is not None:
        assert isinstance(refusal.reason, RejectReason)
        assert refusal.detail


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300), subject=subjects)
def test_arbitrary_bytes_are_refused_cleanly(body: bytes, subject: str) -> None:
    _decode(body, subject)


@settings(max_examples=300, deadline=None)
@given(value=json_values, subject=subjects)
def test_arbitrary_json_is_refused_cleanly(value: Any, subject: str) -> None:
    _decode(json.dumps(value).encode(), subject)


@settings(max_examples=400, deadline=None)
@given(
    path=st.lists(st.sampled_from([*sorted(VALID), "data"]), min_size=1, max_size=1),
    data_key=st.sampled_from(sorted(VALID["data"])),
    replacement=json_values,
    into_data=st.booleans(),
)
def test_a_valid_event_with_any_one_field_replaced_is_decoded_or_refused_cleanly(
    path: list[str], data_key: str, replacement: Any, into_data: bool
) -> None:
    mutated = json.loads(VALID_BODY)
    if into_data:
        mutated["data"][data_key] = replacement
    else:
        mutated[path[0]] = replacement
    _decode(json.dumps(mutated).encode(), VALID_SUBJECT)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(VALID_BODY)), junk=st.binary(max_size=8))
def test_truncated_or_spliced_bodies_are_refused_cleanly(cut: int, junk: bytes) -> None:
    _decode(VALID_BODY[:cut] + junk, event_subject(CUSTOMS, AMR, "goods.detained"))


def test_the_unmutated_event_decodes() -> None:
    assert decode_event(VALID_BODY, VALID_SUBJECT).id == VALID["id"]
