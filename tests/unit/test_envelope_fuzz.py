"""Fuzzing the envelope parser: whatever arrives, it answers with a value or a clean refusal."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import envelope as envelope_module
from contracts.envelope import EnvelopeRejected, RejectReason, decode_event
from contracts.identifiers import new_ulid
from contracts.subjects import event_subject, parse_event_subject
from tests.hostile import RAW, Hostile, spliced
from tests.unit.builders import AMR, CUSTOMS, envelope_for, goods_detained, wire

VALID_BODY, VALID_SUBJECT = wire(envelope_for(goods_detained(new_ulid()), case_id=new_ulid()))
VALID: dict[str, Any] = json.loads(VALID_BODY)
VALID_KEY = parse_event_subject(VALID_SUBJECT).key

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
        lambda s, r, p, k, t: f"ipbus.v1.{s}.{r}.{p}{k}.{t}",
        st.sampled_from([CUSTOMS, AMR, "X", ""]),
        st.sampled_from([AMR, "coordinator", "a.b"]),
        st.sampled_from(["", "0.", "3.", "x.", "99999."]),  # published, stored, malformed
        st.sampled_from([VALID_KEY, new_ulid(), "case-1", ""]),
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
    _decode(VALID_BODY[:cut] + junk, event_subject(CUSTOMS, AMR, VALID_KEY, "goods.detained"))


def test_the_unmutated_event_decodes() -> None:
    assert decode_event(VALID_BODY, VALID_SUBJECT).id == VALID["id"]


def _refusal(body: bytes, subject: str = VALID_SUBJECT) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as refused:
        decode_event(body, subject)
    assert refused.value.detail
    return refused.value


@pytest.mark.parametrize("hostile", [pytest.param(h, id=h.name) for h in RAW])
def test_each_pathological_body_is_refused_with_its_reason(hostile: Hostile) -> None:
    assert _refusal(hostile.body).reason is hostile.reason


@pytest.mark.parametrize("hostile", [pytest.param(h, id=h.name) for h in spliced(VALID)])
def test_each_pathological_value_spliced_into_a_valid_event_is_refused_with_its_reason(
    hostile: Hostile,
) -> None:
    assert _refusal(hostile.body).reason is hostile.reason


DEEP_LIST: Any = 1
for _ in range(40):
    DEEP_LIST = [DEEP_LIST]


@pytest.mark.parametrize(
    ("where", "value", "reason"),
    [
        ("id", "not-a-ulid", RejectReason.NOT_CLOUDEVENT),
        ("id", None, RejectReason.NOT_CLOUDEVENT),
        ("id", 7, RejectReason.NOT_CLOUDEVENT),
        ("id", "01ARZ3NDEKTSV4RRFFQ69G5FA\u0000", RejectReason.NOT_CANONICAL),
        ("subject", "../../etc", RejectReason.NOT_CLOUDEVENT),
        ("time", "10000-01-01T00:00:00Z", RejectReason.NOT_CLOUDEVENT),
        ("time", "yesterday", RejectReason.NOT_CLOUDEVENT),
        ("time", 1772416800, RejectReason.NOT_CLOUDEVENT),  # a Unix number: not RFC 3339
        ("time", 1772416800.5, RejectReason.NOT_CLOUDEVENT),
        ("time", "1772416800", RejectReason.NOT_CLOUDEVENT),  # digits pydantic would read
        ("time", "2026-03-02", RejectReason.NOT_CLOUDEVENT),
        ("specversion", 1.0, RejectReason.NOT_CLOUDEVENT),
        ("data", [1, 2], RejectReason.NOT_CLOUDEVENT),
        ("data", None, RejectReason.NOT_CLOUDEVENT),
        ("signature", 1e300, RejectReason.NOT_CLOUDEVENT),
        ("signature", "a\u0000", RejectReason.NOT_CANONICAL),
        ("signature", DEEP_LIST, RejectReason.NOT_CANONICAL),
        ("dataclassification", "secret", RejectReason.NOT_CLOUDEVENT),
    ],
)
def test_wrong_types_and_values_in_attributes_are_refused(
    where: str, value: Any, reason: RejectReason
) -> None:
    body = json.dumps({**VALID, where: value}).replace("\\\\u0000", "\\u0000").encode()
    assert _refusal(body).reason is reason


@pytest.mark.parametrize(
    "error",
    [
        RecursionError("deep"),
        MemoryError(),
        OverflowError("big"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
        KeyError("x"),
        TypeError("nope"),
    ],
)
def test_any_unexpected_failure_of_the_checks_is_a_refusal_not_an_escape(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(envelope_module, "payload_model", broken)
    refusal = _refusal(VALID_BODY)
    assert refusal.reason is RejectReason.UNREADABLE
    assert type(error).__name__ in refusal.detail


def test_an_event_carries_its_signed_bytes_computed_once_at_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = decode_event(VALID_BODY, VALID_SUBJECT)
    expected = envelope_module.signing_input(VALID)

    def again(*args: Any) -> bytes:
        raise AssertionError("signed bytes computed twice")

    monkeypatch.setattr(envelope_module, "signing_input", again)
    assert event.signed_bytes == expected


big_or_odd_numbers = st.one_of(
    st.integers().filter(lambda n: abs(n) > 2**53 - 1),
    st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1e999999"]),
)


@settings(max_examples=200, deadline=None)
@given(number=big_or_odd_numbers, where=st.sampled_from(["ext", "data", "deep"]))
def test_numbers_without_a_canonical_form_are_refused_wherever_they_are(
    number: int | str, where: str
) -> None:
    body = dict(VALID)
    marker = '"@@N@@"'
    if where == "ext":
        body["numberext"] = "@@N@@"
    elif where == "data":
        body["data"] = {**VALID["data"], "quantity": "@@N@@"}
    else:
        body["data"] = {**VALID["data"], "x": [{"y": "@@N@@"}]}
    text = json.dumps(body).replace(marker, str(number))
    assert _refusal(text.encode()).reason in {RejectReason.NOT_JSON, RejectReason.NOT_CANONICAL}


@settings(max_examples=200, deadline=None)
@given(depth=st.integers(min_value=33, max_value=300_000), opener=st.sampled_from(["[", '{"a":']))
def test_nesting_of_any_depth_is_refused_without_a_recursion_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = json.dumps({**VALID, "deepext": "@@D@@"})
    text = body.replace('"@@D@@"', opener * depth + "1" + closer * depth)
    assert _refusal(text.encode()).reason in {RejectReason.NOT_JSON, RejectReason.NOT_CANONICAL}
