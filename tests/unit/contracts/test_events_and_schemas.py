"""The event catalogue and its JSON Schemas: one table, both directions of the type mapping."""

import pytest

from contracts.events import (
    EVENT_MODELS,
    UnknownEventType,
    cloudevent_type,
    event_type_from_cloudevent,
    payload_model,
)
from contracts.referrals import ReferralIssued
from contracts.schemas import json_schemas

# Written out from DESIGN §5, independently of EVENT_MODELS.
DESIGN_TYPES = {
    "case.opened",
    "case.status_changed",
    "case.closed",
    "referral.issued",
    "referral.acknowledged",
    "referral.accepted",
    "referral.declined",
    "referral.concluded",
    "referral.withdrawn",
    "referral.overdue",
    # reconsideration and supervision (README "Contract notes"; to be added to DESIGN §5)
    "referral.reconsideration_requested",
    "referral.decline_upheld",
    "referral.supervision_opened",
    "referral.refusal_explained",
    "referral.filing_notified",
    "referral.supervision_closed",
    "referral.copied",
    "referral.refused",
    # lawful extensions and clock stops (issue 15; README "Contract notes")
    "referral.extended",
    "referral.clock_stopped",
    "referral.clock_resumed",
    "warning.issued",
    "warning.delivered",
    "warning.acknowledged",
    "warning.retracted",
    "warning.escalated",  # added by the early-warning work; see README "Contract notes"
    "goods.detained",
    "goods.released",
    "goods.confiscated",
    "judgment.rendered",
    "confirmation.issued",
    # DESIGN §5 "added in v1 as they are built": oversight of cases never transferred
    "oversight.flagged",
    "oversight.suggested",
    "oversight.answered",
    # issue 15: the seized items handed over with a transfer (Decree 310 art. 12)
    "referral.items_handed_over",
    # DESIGN §5 "added in v1 as they are built": outcomes (issue 19)
    "case.cancelled",
    "prosecution.declined",
    "judgment.appealed",
    "judgment.final",
    # DESIGN §5 "added in v1 as they are built": rights holders (issue 19 part 2)
    "holder.notified",
    "holder.applied",
    "holder.declined",
    "holder.lapsed",
    # DESIGN §5 "added in v1 as they are built": credit supervision (issue 19 part 3)
    "credit.listed",
    "credit.delisted",
    # DESIGN §5 "added in v1 as they are built": evidence (issue 19 part 1)
    "evidence.attached",
    "evidence.received",
}


def test_the_catalogue_holds_exactly_the_design_event_types() -> None:
    assert set(EVENT_MODELS) == DESIGN_TYPES


def test_the_catalogue_cannot_be_modified() -> None:
    with pytest.raises(TypeError):
        EVENT_MODELS["x.y"] = ReferralIssued  # type: ignore[index]


def test_a_payload_model_is_found_by_its_event_type() -> None:
    assert payload_model("referral.issued") is ReferralIssued


def test_an_unknown_event_type_has_no_model() -> None:
    with pytest.raises(UnknownEventType, match=r"unknown event type 'referral\.lost'"):
        payload_model("referral.lost")
    assert issubclass(UnknownEventType, ValueError)


def test_the_cloudevents_type_wraps_the_event_type_in_prefix_and_version() -> None:
    assert cloudevent_type("referral.issued") == "ipbus.referral.issued.v1"
    with pytest.raises(UnknownEventType):
        cloudevent_type("referral.lost")


@pytest.mark.parametrize("event_type", sorted(DESIGN_TYPES))
def test_the_cloudevents_type_maps_back_to_the_event_type(event_type: str) -> None:
    assert event_type_from_cloudevent(cloudevent_type(event_type)) == event_type


@pytest.mark.parametrize(
    ("ce_type", "fragment"),
    [
        ("com.example.referral.issued.v1", "does not start with 'ipbus.'"),
        ("referral.issued.v1", "does not start with 'ipbus.'"),
        ("ipbus.referral.issued.v2", "unsupported version v2"),
        ("ipbus.referral.issued.v10", "unsupported version v10"),
        ("ipbus.referral.issued", "no version suffix"),
        ("ipbus.v1", "no version suffix"),
        ("ipbus.referral.lost.v1", "unknown event type 'referral.lost'"),
        ("ipbus.referral.issued.V1", "no version suffix"),
    ],
)
def test_a_foreign_or_future_cloudevents_type_is_refused(ce_type: str, fragment: str) -> None:
    with pytest.raises(UnknownEventType, match=fragment):
        event_type_from_cloudevent(ce_type)


def test_there_is_one_schema_per_event_type_keyed_by_cloudevents_type() -> None:
    schemas = json_schemas()
    assert set(schemas) == {f"ipbus.{t}.v1" for t in DESIGN_TYPES}


def test_a_schema_forbids_extra_fields_and_lists_required_ones() -> None:
    schema = json_schemas()["ipbus.referral.declined.v1"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"referral_id", "reason"}
    assert schema["$id"] == "ipbus.referral.declined.v1"


def test_a_schema_describes_money_amounts_and_nested_warnings() -> None:
    schemas = json_schemas()
    assert "Money" in schemas["ipbus.referral.issued.v1"]["$defs"]
    assert "WarningIssued" in schemas["ipbus.warning.delivered.v1"]["$defs"]
    hs = schemas["ipbus.goods.detained.v1"]["properties"]["hs_code"]
    assert hs["pattern"] == "^[0-9]{6,10}$"
