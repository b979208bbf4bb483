"""The CloudEvents envelope (DESIGN §4) and the subject names (DESIGN §3)."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from contracts.cases import CaseClosed
from contracts.customs import GoodsDetained
from contracts.envelope import (
    EnvelopeRejected,
    RejectReason,
    decode_event,
    encode_envelope,
    new_envelope,
    partition_key,
    publish_subject,
    signing_input,
)
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralDeclined
from contracts.subjects import (
    EventSubject,
    InvalidSubject,
    agency_consumer,
    agency_filter,
    event_subject,
    parse_event_subject,
    query_subject,
    stored_filter,
)
from tests.unit.builders import (
    AMR,
    CUSTOMS,
    envelope_for,
    goods_detained,
    wire,
)

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
REFERRAL_ID = "01JABCDEFGHJKMNPQRSTVWXYZ1"
CLOSED_SUBJECT = f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.case.closed"
OTHER_CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ2"


def closed_case_raw() -> dict[str, Any]:
    """A valid case.closed event, as the JSON object a receiver parses."""
    body, _ = wire(
        envelope_for(CaseClosed(local_ref="沪关缉1号", outcome="fined"), case_id=CASE_ID)
    )
    raw: dict[str, Any] = json.loads(body)
    return raw


def body_of(raw: Any) -> bytes:
    return json.dumps(raw, ensure_ascii=False).encode()


def rejection(body: bytes, subject: str) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        decode_event(body, subject)
    return caught.value


# --- a good event goes round -------------------------------------------------------------------


def test_a_new_envelope_decodes_back_to_its_typed_payload() -> None:
    payload = goods_detained(CASE_ID)
    body, subject = wire(envelope_for(payload, case_id=CASE_ID))

    event = decode_event(body, subject)

    assert isinstance(event.payload, GoodsDetained)
    assert event.payload == payload
    assert event.payload.declared_value.value == Decimal("1250.00")
    assert event.event_type == "goods.detained"
    assert (event.sender, event.recipient) == (CUSTOMS, AMR)
    assert event.route == EventSubject(CUSTOMS, AMR, CASE_ID, "goods.detained")
    assert event.route.partition is None  # as published; the stream adds it


def test_the_envelope_names_the_case_and_correlates_by_it_unless_told_otherwise() -> None:
    envelope = envelope_for(CaseClosed(local_ref="R-1", outcome="done"), case_id=CASE_ID)
    event = decode_event(*wire(envelope))

    assert event.envelope.subject == CASE_ID
    assert event.case_id == CASE_ID
    assert event.correlation_id == CASE_ID
    assert event.raw["datacontenttype"] == "application/json"
    assert event.raw["specversion"] == "1.0"
    assert event.raw["source"] == "/agencies/customs-shanghai"
    assert event.raw["type"] == "ipbus.case.closed.v1"


def test_an_explicit_correlation_and_causation_id_are_carried() -> None:
    cause = new_ulid()
    envelope = envelope_for(
        CaseClosed(local_ref="R-1", outcome="done"),
        case_id=CASE_ID,
        correlation_id="conversation-7",
        causation_id=cause,
    )
    event = decode_event(*wire(envelope))

    assert event.correlation_id == "conversation-7"
    assert event.envelope.causationid == cause


def test_time_is_sent_and_read_back_as_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    envelope = new_envelope(
        sender=CUSTOMS,
        payload=CaseClosed(local_ref="R-1", outcome="done"),
        now=datetime(2026, 3, 1, 8, 30, tzinfo=shanghai),
        case_id=CASE_ID,
    )
    event = decode_event(*wire(envelope))

    assert event.raw["time"] in ("2026-03-01T00:30:00Z", "2026-03-01T00:30:00+00:00")
    assert event.envelope.time == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert event.envelope.time.utcoffset() == timedelta(0)


def test_a_time_received_with_an_offset_is_normalised_to_utc() -> None:
    raw = closed_case_raw()
    raw["time"] = "2026-03-01T08:00:00+08:00"

    event = decode_event(body_of(raw), CLOSED_SUBJECT)

    assert event.envelope.time == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert event.envelope.time.utcoffset() == timedelta(0)


def test_an_event_without_a_case_has_no_subject_attribute_on_the_wire() -> None:
    body, _ = wire(envelope_for(CaseClosed(local_ref="R-1", outcome="done")))

    assert "subject" not in json.loads(body)
    assert "correlationid" not in json.loads(body)


# --- every rejection reason ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b"\xff", "not JSON", id="not-utf8"),
        pytest.param(b"{", "not JSON", id="truncated"),
        pytest.param(b"", "not JSON", id="empty"),
    ],
)
def test_a_body_that_is_not_json_is_rejected(body: bytes, fragment: str) -> None:
    refused = rejection(body, CLOSED_SUBJECT)

    assert refused.reason is RejectReason.NOT_JSON
    assert fragment in refused.detail


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw.pop(key)


def _setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw.__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        pytest.param(_without("id"), "id", "required", id="missing-id"),
        pytest.param(_without("data"), "data", "required", id="missing-data"),
        pytest.param(_setting("specversion", "0.3"), "specversion", "1.0", id="specversion-0.3"),
        pytest.param(_setting("id", "evt-42"), "id", "ULID", id="id-not-ulid"),
        pytest.param(
            _setting("id", "01jabcdefghjkmnpqrstvwxyz0"), "id", "ULID", id="id-lower-case"
        ),
        pytest.param(_setting("source", "customs-shanghai"), "source", "pattern", id="bare-source"),
        pytest.param(
            _setting("source", "/agency/customs-shanghai"), "source", "pattern", id="wrong-path"
        ),
        pytest.param(_setting("time", "2026-03-01T08:00:00"), "time", "timezone", id="naive-time"),
        pytest.param(
            _setting("datacontenttype", "text/xml"), "datacontenttype", "", id="xml-content"
        ),
        pytest.param(_setting("data", [1, 2]), "data", "dict", id="data-is-a-list"),
    ],
)
def test_a_json_object_that_is_not_a_valid_cloudevent_is_rejected(
    change: Callable[[dict[str, Any]], None], field: str, fragment: str
) -> None:
    raw = closed_case_raw()
    change(raw)

    refused = rejection(body_of(raw), CLOSED_SUBJECT)

    assert refused.reason is RejectReason.NOT_CLOUDEVENT
    assert refused.detail.startswith(f"{field}:")
    assert fragment.lower() in refused.detail.lower()


def test_a_json_array_is_not_a_cloudevent() -> None:
    refused = rejection(body_of([closed_case_raw()]), CLOSED_SUBJECT)

    assert refused.reason is RejectReason.NOT_CLOUDEVENT
    assert "not an object" in refused.detail


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        pytest.param(f"ipbus.v2.{CUSTOMS}.{AMR}.{CASE_ID}.case.closed", "ipbus.v2", id="version-2"),
        pytest.param(
            f"ipbus.events.{CUSTOMS}.{AMR}.{CASE_ID}.case.closed", "ipbus.events", id="prefix"
        ),
        pytest.param(f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}", AMR, id="no-event-type"),
        pytest.param(f"ipbus.v1.{CUSTOMS}", CUSTOMS, id="too-few-tokens"),
        pytest.param("ipbus", "ipbus", id="one-token"),
        pytest.param(
            f"ipbus.v1.Customs-Shanghai.{AMR}.{CASE_ID}.case.closed",
            "Customs-Shanghai",
            id="sender",
        ),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.AMR.{CASE_ID}.case.closed", "'AMR'", id="upper-case-recipient"
        ),
        pytest.param(f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}..closed", ".closed", id="empty-token"),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}..{CASE_ID}.case.closed", "recipient", id="empty-recipient"
        ),
        pytest.param(f"ipbus.v1.{CUSTOMS}.{AMR}..case.closed", "key", id="empty-key"),
        pytest.param(f"ipbus.v1.{CUSTOMS}.{AMR}.case-1.case.closed", "'case-1'", id="key-not-ulid"),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID.lower()}.case.closed",
            CASE_ID.lower(),
            id="key-lower-case",
        ),
        pytest.param(f"ipbus.v1.{CUSTOMS}.{AMR}.case.closed", "case.closed", id="six-token-form"),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.{AMR}.p1.{CASE_ID}.case.closed",
            "'p1'",
            id="partition-not-a-number",
        ),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.{AMR}.1.{CASE_ID}.case.closed.x", "case.closed.x", id="nine-tokens"
        ),
    ],
)
def test_a_subject_outside_the_naming_scheme_is_rejected(subject: str, named: str) -> None:
    refused = rejection(body_of(closed_case_raw()), subject)

    assert refused.reason is RejectReason.BAD_SUBJECT
    assert named in refused.detail


def test_a_subject_with_a_dotted_sender_is_a_bad_subject() -> None:
    subject = f"ipbus.v1.customs.shanghai.{AMR}.{CASE_ID}.case.closed"

    refused = rejection(body_of(closed_case_raw()), subject)

    assert refused.reason is RejectReason.BAD_SUBJECT
    assert f"amr-shanghai.{CASE_ID}.case.closed" in refused.detail


def test_a_bad_subject_is_reported_before_the_body_is_read() -> None:
    refused = rejection(b"\xff", "not.an.ipbus.subject")

    assert refused.reason is RejectReason.BAD_SUBJECT


@pytest.mark.parametrize(
    ("ce_type", "subject_type", "reason", "fragment"),
    [
        pytest.param(
            "ipbus.nope.never.v1", "nope.never", RejectReason.UNKNOWN_TYPE, "nope", id="unknown"
        ),
        pytest.param(
            "ipbus.referral.issued.v2",
            "referral.issued",
            RejectReason.UNSUPPORTED_VERSION,
            "v2",
            id="version-2",
        ),
        pytest.param(
            "ipbus.case.opened.v1",
            "case.closed",
            RejectReason.TYPE_MISMATCH,
            "case.closed",
            id="subject-disagrees",
        ),
    ],
)
def test_a_type_that_is_unknown_or_disagrees_with_the_subject_is_rejected(
    ce_type: str, subject_type: str, reason: RejectReason, fragment: str
) -> None:
    raw = closed_case_raw()
    raw["type"] = ce_type

    refused = rejection(body_of(raw), f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.{subject_type}")

    assert refused.reason is reason
    assert fragment in refused.detail
    assert ce_type in refused.detail


def test_an_unknown_type_whose_name_contains_version_is_still_an_unknown_type() -> None:
    raw = closed_case_raw()
    raw["type"] = "ipbus.currency.conversion.v1"

    refused = rejection(body_of(raw), f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.currency.conversion")

    assert refused.reason is RejectReason.UNKNOWN_TYPE


def test_a_source_other_than_the_subjects_sender_is_rejected() -> None:
    raw = closed_case_raw()
    raw["source"] = "/agencies/amr-shanghai"

    refused = rejection(body_of(raw), CLOSED_SUBJECT)

    assert refused.reason is RejectReason.SOURCE_MISMATCH
    assert "/agencies/amr-shanghai" in refused.detail
    assert CUSTOMS in refused.detail


def _detained_raw() -> dict[str, Any]:
    body, _ = wire(envelope_for(goods_detained(CASE_ID), case_id=CASE_ID))
    raw: dict[str, Any] = json.loads(body)
    return raw


def _declined_raw() -> dict[str, Any]:
    declined = ReferralDeclined(referral_id=REFERRAL_ID, reason="not our jurisdiction")
    body, _ = wire(envelope_for(declined, sender=AMR, case_id=CASE_ID), CUSTOMS)
    raw: dict[str, Any] = json.loads(body)
    return raw


DETAINED_SUBJECT = f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.goods.detained"
DECLINED_SUBJECT = f"ipbus.v1.{AMR}.{CUSTOMS}.{CASE_ID}.referral.declined"


@pytest.mark.parametrize(
    ("build", "subject", "data_change", "path"),
    [
        pytest.param(
            _detained_raw, DETAINED_SUBJECT, {"hs_code": "64039"}, "hs_code", id="hs-code-5-digits"
        ),
        pytest.param(
            _detained_raw,
            DETAINED_SUBJECT,
            {"declared_value": {"value": 1250.5, "currency": "CNY"}},
            "declared_value.value",
            id="money-as-float",
        ),
        pytest.param(
            _detained_raw,
            DETAINED_SUBJECT,
            {"declared_value": {"value": "1250.00", "currency": "RMB"}},
            "declared_value.currency",
            id="not-iso-4217",
        ),
        pytest.param(
            _detained_raw, DETAINED_SUBJECT, {"quantity": "1200"}, "quantity", id="quantity-text"
        ),
        pytest.param(
            _detained_raw, DETAINED_SUBJECT, {"colour": "red"}, "colour", id="unknown-field"
        ),
        pytest.param(_declined_raw, DECLINED_SUBJECT, {"reason": ""}, "reason", id="empty-reason"),
        pytest.param(
            _declined_raw, DECLINED_SUBJECT, {"reason": "   "}, "reason", id="blank-reason"
        ),
    ],
)
def test_a_payload_that_breaks_its_model_is_rejected_naming_the_field(
    build: Callable[[], dict[str, Any]], subject: str, data_change: dict[str, Any], path: str
) -> None:
    raw = build()
    raw["data"].update(data_change)

    refused = rejection(body_of(raw), subject)

    assert refused.reason is RejectReason.INVALID_PAYLOAD
    assert refused.detail.startswith(f"{path}:")


def test_a_payload_missing_a_required_field_is_rejected_naming_it() -> None:
    raw = _declined_raw()
    del raw["data"]["reason"]

    refused = rejection(body_of(raw), DECLINED_SUBJECT)

    assert refused.reason is RejectReason.INVALID_PAYLOAD
    assert refused.detail.startswith("reason:")


def test_the_rejection_message_carries_the_reason_code() -> None:
    refused = rejection(b"{", CLOSED_SUBJECT)

    assert str(refused).startswith("not_json: ")


# --- forward compatibility -----------------------------------------------------------------------


def test_unknown_extension_attributes_are_kept() -> None:
    raw = closed_case_raw()
    raw["dataref"] = "https://example.invalid/claim"
    raw["x-foo"] = 1

    event = decode_event(body_of(raw), CLOSED_SUBJECT)

    assert event.envelope.extensions == {"dataref": "https://example.invalid/claim", "x-foo": 1}
    assert event.raw["dataref"] == "https://example.invalid/claim"
    assert event.raw["x-foo"] == 1


def test_an_event_without_extensions_reports_none() -> None:
    event = decode_event(body_of(closed_case_raw()), CLOSED_SUBJECT)

    assert event.envelope.extensions == {}


# --- the signed bytes ----------------------------------------------------------------------------


def test_the_signing_input_leaves_the_signature_out() -> None:
    raw = closed_case_raw()
    signed = raw | {"signature": "c2lnbmF0dXJl"}

    assert b"signature" not in signing_input(signed)
    assert signing_input(signed) == signing_input(raw)


def test_the_signing_input_is_canonical_json_with_sorted_keys_and_no_whitespace() -> None:
    value = {"b": 1, "a": {"d": "x y", "c": [2, 1]}, "signature": "zzz"}

    assert signing_input(value) == b'{"a":{"c":[2,1],"d":"x y"},"b":1}'


def test_the_signing_input_does_not_depend_on_key_order() -> None:
    raw = closed_case_raw()
    reordered = {key: raw[key] for key in reversed(list(raw))}
    reordered["data"] = {key: raw["data"][key] for key in reversed(list(raw["data"]))}
    assert list(reordered) != list(raw)

    assert signing_input(reordered) == signing_input(raw)


def test_the_signing_input_of_an_envelope_equals_that_of_its_wire_form() -> None:
    envelope = envelope_for(CaseClosed(local_ref="R-1", outcome="done"), case_id=CASE_ID)

    assert signing_input(envelope) == signing_input(json.loads(encode_envelope(envelope)))


def test_the_signing_input_changes_when_the_payload_changes() -> None:
    raw = closed_case_raw()
    changed = json.loads(json.dumps(raw))
    changed["data"]["outcome"] = "acquitted"

    assert signing_input(changed) != signing_input(raw)


# --- subjects ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "recipient", "event_type", "subject"),
    [
        (
            CUSTOMS,
            AMR,
            "referral.issued",
            f"ipbus.v1.customs-shanghai.amr-shanghai.{CASE_ID}.referral.issued",
        ),
        (
            AMR,
            "coordinator",
            "case.opened",
            f"ipbus.v1.amr-shanghai.coordinator.{CASE_ID}.case.opened",
        ),
        (
            "coordinator",
            AMR,
            "warning.delivered",
            f"ipbus.v1.coordinator.amr-shanghai.{CASE_ID}.warning.delivered",
        ),
        (
            CUSTOMS,
            AMR,
            "case.status_changed",
            f"ipbus.v1.customs-shanghai.amr-shanghai.{CASE_ID}.case.status_changed",
        ),
    ],
)
def test_an_event_subject_is_built_and_parsed_back(
    sender: str, recipient: str, event_type: str, subject: str
) -> None:
    assert event_subject(sender, recipient, CASE_ID, event_type) == subject
    assert parse_event_subject(subject) == EventSubject(sender, recipient, CASE_ID, event_type)
    assert parse_event_subject(subject).partition is None
    assert str(EventSubject(sender, recipient, CASE_ID, event_type)) == subject


@pytest.mark.parametrize("partition", [0, 3, 15])
def test_a_stored_subject_parses_with_the_partition_the_stream_filed_it_under(
    partition: int,
) -> None:
    stored = f"ipbus.v1.{CUSTOMS}.{AMR}.{partition}.{CASE_ID}.referral.issued"

    route = parse_event_subject(stored)

    assert route == EventSubject(CUSTOMS, AMR, CASE_ID, "referral.issued", partition)
    # printed back, it is the subject as published (a replay publishes it again)
    assert str(route) == f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.referral.issued"


def test_a_stored_filter_matches_any_partition() -> None:
    assert stored_filter() == "ipbus.v1.*.*.*.*.>"
    assert (
        stored_filter(CUSTOMS, "coordinator", "goods.detained", key=CASE_ID)
        == f"ipbus.v1.{CUSTOMS}.coordinator.*.{CASE_ID}.goods.detained"
    )
    assert stored_filter(recipient=AMR, event_type="warning.>") == (
        f"ipbus.v1.*.{AMR}.*.*.warning.>"
    )


@pytest.mark.parametrize(
    ("sender", "recipient", "key", "event_type"),
    [
        pytest.param("customs.shanghai", AMR, CASE_ID, "case.opened", id="dotted-sender"),
        pytest.param(CUSTOMS, "amr.shanghai", CASE_ID, "case.opened", id="dotted-recipient"),
        pytest.param("Customs-Shanghai", AMR, CASE_ID, "case.opened", id="upper-case-sender"),
        pytest.param("", AMR, CASE_ID, "case.opened", id="empty-sender"),
        pytest.param(CUSTOMS, "*", CASE_ID, "case.opened", id="wildcard-recipient"),
        pytest.param(CUSTOMS, AMR, CASE_ID, "", id="empty-event-type"),
        pytest.param(CUSTOMS, AMR, CASE_ID, "case.", id="trailing-dot"),
        pytest.param(CUSTOMS, AMR, CASE_ID, ".case", id="leading-dot"),
        pytest.param(CUSTOMS, AMR, CASE_ID, "case.*", id="wildcard-event-type"),
        pytest.param(CUSTOMS, AMR, CASE_ID, "Case.Opened", id="upper-case-event-type"),
        pytest.param(CUSTOMS, AMR, CASE_ID, "case", id="one-word-event-type"),
        pytest.param(CUSTOMS, AMR, CASE_ID, "case.opened.again", id="three-word-event-type"),
        pytest.param(CUSTOMS, AMR, "", "case.opened", id="empty-key"),
        pytest.param(CUSTOMS, AMR, "*", "case.opened", id="wildcard-key"),
        pytest.param(CUSTOMS, AMR, "case-42", "case.opened", id="key-not-a-ulid"),
        pytest.param(CUSTOMS, AMR, CASE_ID.lower(), "case.opened", id="lower-case-key"),
        pytest.param(CUSTOMS, AMR, "8" + CASE_ID[1:], "case.opened", id="key-beyond-ulid-range"),
        pytest.param(CUSTOMS, AMR, CASE_ID + "0", "case.opened", id="key-too-long"),
        pytest.param(CUSTOMS, AMR, f"{CASE_ID[:5]}.{CASE_ID[6:]}", "case.opened", id="dotted-key"),
    ],
)
def test_invalid_tokens_do_not_make_a_subject(
    sender: str, recipient: str, key: str, event_type: str
) -> None:
    with pytest.raises(InvalidSubject):
        event_subject(sender, recipient, key, event_type)


@pytest.mark.parametrize(
    "subject",
    [
        "ipbus.v1.customs-shanghai.amr-shanghai",
        f"ipbus.v2.customs-shanghai.amr-shanghai.{CASE_ID}.case.opened",
        f"nats.v1.customs-shanghai.amr-shanghai.{CASE_ID}.case.opened",
        f"ipbus.v1.customs-shanghai.AMR.{CASE_ID}.case.opened",
        f"ipbus.v1.customs-shanghai.amr-shanghai.{CASE_ID}.Case.opened",
        f"ipbus.v1.customs-shanghai.amr-shanghai.{CASE_ID}.case-opened",
        f"ipbus.v1.customs.shanghai.amr-shanghai.{CASE_ID}.case.opened",
        "ipbus.v1.customs-shanghai.amr-shanghai.case-42.case.opened",
        "ipbus.v1.customs-shanghai.amr-shanghai.case.opened",  # the old, unkeyed form
        "ipbus.v1.customs-shanghai.amr-shanghai.2.case.opened",  # a partition but no key
        f"ipbus.v1.customs-shanghai.amr-shanghai.two.{CASE_ID}.case.opened",
        f"ipbus.v1.customs-shanghai.amr-shanghai.-1.{CASE_ID}.case.opened",
        f"ipbus.v1.customs-shanghai.amr-shanghai.*.{CASE_ID}.case.opened",
        f"ipbus.v1.customs-shanghai.amr-shanghai.1.2.{CASE_ID}.case.opened",
        "ipbus",
        "",
    ],
)
def test_a_malformed_subject_does_not_parse(subject: str) -> None:
    with pytest.raises(InvalidSubject):
        parse_event_subject(subject)


# --- the partition key -------------------------------------------------------------------------


def test_the_partition_key_is_the_case_the_envelope_names() -> None:
    envelope = envelope_for(goods_detained(CASE_ID), case_id=CASE_ID)

    assert partition_key(envelope) == CASE_ID
    assert publish_subject(envelope, AMR) == f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.goods.detained"


def test_without_a_case_on_the_envelope_the_payloads_case_id_is_the_key() -> None:
    envelope = envelope_for(goods_detained(CASE_ID))
    assert envelope.subject is None

    assert partition_key(envelope) == CASE_ID


def test_without_a_case_the_correlation_is_the_key_and_without_either_the_event_id() -> None:
    correlation = new_ulid()
    correlated = envelope_for(
        CaseClosed(local_ref="R-1", outcome="done"), correlation_id=correlation
    )
    alone = envelope_for(CaseClosed(local_ref="R-1", outcome="done"))
    not_a_ulid = envelope_for(
        CaseClosed(local_ref="R-1", outcome="done"), correlation_id="conversation-7"
    )

    assert partition_key(correlated) == correlation
    assert partition_key(alone) == alone.id
    assert partition_key(not_a_ulid) == not_a_ulid.id  # only a ULID makes a subject token


def test_the_stored_form_of_a_subject_decodes_with_its_partition() -> None:
    body = body_of(closed_case_raw())

    event = decode_event(body, f"ipbus.v1.{CUSTOMS}.{AMR}.2.{CASE_ID}.case.closed")

    assert event.route == EventSubject(CUSTOMS, AMR, CASE_ID, "case.closed", 2)


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.{AMR}.{OTHER_CASE_ID}.case.closed", id="another-case-published"
        ),
        pytest.param(
            f"ipbus.v1.{CUSTOMS}.{AMR}.1.{OTHER_CASE_ID}.case.closed", id="another-case-stored"
        ),
    ],
)
def test_a_subject_keyed_by_another_case_is_a_bad_subject(subject: str) -> None:
    refused = rejection(body_of(closed_case_raw()), subject)

    assert refused.reason is RejectReason.BAD_SUBJECT
    assert OTHER_CASE_ID in refused.detail
    assert CASE_ID in refused.detail


def test_an_event_without_a_case_keyed_by_anything_but_its_id_is_a_bad_subject() -> None:
    envelope = envelope_for(CaseClosed(local_ref="R-1", outcome="done"))
    body, subject = wire(envelope)
    assert subject == f"ipbus.v1.{CUSTOMS}.{AMR}.{envelope.id}.case.closed"
    assert decode_event(body, subject).envelope.id == envelope.id

    refused = rejection(body, f"ipbus.v1.{CUSTOMS}.{AMR}.{CASE_ID}.case.closed")

    assert refused.reason is RejectReason.BAD_SUBJECT


def test_an_agency_reads_everything_addressed_to_it_through_its_own_consumer() -> None:
    assert agency_filter("amr-shanghai") == "ipbus.v1.*.amr-shanghai.>"
    assert agency_consumer("amr-shanghai") == "agency-amr-shanghai"


def test_a_query_subject_names_the_requester_and_the_query() -> None:
    assert query_subject("customs-shanghai", "case") == "ipbus.query.customs-shanghai.case"


@pytest.mark.parametrize("requester", ["Customs", "customs.shanghai", "", "*"])
def test_a_query_from_an_invalid_requester_is_refused(requester: str) -> None:
    with pytest.raises(InvalidSubject):
        query_subject(requester, "case")
