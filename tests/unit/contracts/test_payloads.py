"""Every payload model: a valid example is accepted, and each kind of mistake is refused."""

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.base import Payload
from contracts.cases import CaseOpened, Goods, Party
from contracts.events import EVENT_MODELS
from contracts.warnings import WarningDelivered, WarningIssued

ULID_A = "01JABCDEFGHJKMNPQRSTVWXYZ0"
ULID_B = "01JABCDEFGHJKMNPQRSTVWXYZ1"
WHEN = "2026-03-01T08:00:00+08:00"
CNY = {"value": "1250.00", "currency": "CNY"}
RIGHT = {
    "type": "trademark",
    "registration_no": "12345678",
    "holder": "Acme Co.",
    "description": None,
}
COMPANY = {
    "kind": "legal_person",
    "role": "suspect",
    "name": "某某贸易有限公司",
    "credit_code": "91350100M000100Y43",
    "phone": "+86 21 5555-0000",
    "address": "上海市浦东新区",
}
PERSON = {
    "kind": "natural_person",
    "role": "consignee",
    "name": "张三",
    "resident_id": "11010519491231002X",
}
GOODS = {
    "description": "sports shoes",
    "hs_code": "6403990090",
    "quantity": 1200,
    "declared_value": CNY,
}
WARNING = {
    "warning_id": ULID_A,
    "category": "counterfeit_route",
    "severity": "high",
    "title": "Counterfeit shoes via port X",
    "body": "Shipments of counterfeit shoes routed through port X.",
    "targets": {"kinds": ["customs"], "regions": ["310000"], "ip_types": [], "hs_prefixes": ["64"]},
    "expires_at": WHEN,
}

VALID: dict[str, dict[str, Any]] = {
    "case.opened": {
        "local_ref": "沪关缉〔2026〕1号",
        "title": "Suspected counterfeit shoes",
        "ip_rights": [RIGHT],
        "parties": [COMPANY, PERSON],
        "goods": [GOODS],
        "opened_at": WHEN,
    },
    "case.status_changed": {"local_ref": "A-1", "status": "investigating", "note": "on it"},
    "case.closed": {"local_ref": "A-1", "outcome": "fined"},
    "referral.issued": {
        "referral_id": ULID_A,
        "case_id": ULID_B,
        "kind": "customs_to_enforcement",
        "reason": "suspected infringement",
        "legal_basis": "Trademark Law art. 57",
        "summary": "1200 pairs detained",
        "evidence": [{"name": "photo.jpg", "sha256": "ab" * 32, "uri": "https://e.example/1"}],
        "amount": CNY,
    },
    "referral.acknowledged": {"referral_id": ULID_A, "receipt": "R-2026-001"},
    "referral.accepted": {"referral_id": ULID_A, "local_ref": "沪市监-2026-7"},
    "referral.declined": {"referral_id": ULID_A, "reason": "outside our jurisdiction"},
    "referral.concluded": {"referral_id": ULID_A, "outcome": "penalty decision issued"},
    "referral.withdrawn": {"referral_id": ULID_A, "reason": "sent to the wrong office"},
    "referral.overdue": {
        "referral_id": ULID_A,
        "case_id": ULID_B,
        "stage": "acknowledge",
        "due_at": WHEN,
    },
    "referral.reconsideration_requested": {
        "referral_id": ULID_A,
        "reason": "illegal business volume is 360,000 CNY, above the threshold",
    },
    "referral.decline_upheld": {"referral_id": ULID_A, "reason": "no evidence of intent"},
    "referral.supervision_opened": {"referral_id": ULID_A, "reason": "refusal to file"},
    "referral.refusal_explained": {"referral_id": ULID_A, "explanation": "volume unproven"},
    "referral.filing_notified": {"referral_id": ULID_A, "reason": "the reasons do not hold"},
    "referral.supervision_closed": {"referral_id": ULID_A, "finding": "the reasons hold"},
    "referral.copied": {
        "referral_id": ULID_A,
        "case_id": ULID_B,
        "kind": "admin_to_criminal",
        "sender": "amr-shanghai",
        "recipient": "psb-shanghai",
        "state": "declined",
        "step": "referral.declined",
    },
    "referral.refused": {
        "referral_id": ULID_A,
        "refused_event_id": ULID_B,
        "attempted": "referral.concluded",
        "reason": "referral.concluded is not allowed from state acknowledged",
    },
    "referral.extended": {
        "referral_id": ULID_A,
        "stage": "decide",
        "reason": "a complex case: the trademark registrations must be verified",
        "approved_by": "head of Pudong public security bureau",
    },
    "referral.clock_stopped": {
        "referral_id": ULID_A,
        "stage": "decide",
        "ground": "identification",
        "reason": "the right holder identifies the seized goods",
    },
    "referral.clock_resumed": {
        "referral_id": ULID_A,
        "stage": "decide",
        "note": "identification done",
    },
    "warning.issued": WARNING,
    "warning.delivered": {"warning_id": ULID_A, "warning": WARNING},
    "warning.acknowledged": {"warning_id": ULID_A, "note": ""},
    "warning.retracted": {"warning_id": ULID_A, "reason": "false alarm"},
    "warning.escalated": {
        "warning_id": ULID_A,
        "agency_id": "customs-shanghai",
        "deliveries": 2,
        "first_delivered_at": "2026-03-01T08:00:00Z",
    },
    "goods.detained": {
        "detention_id": ULID_A,
        "case_id": ULID_B,
        "port": "Yangshan",
        "hs_code": "640399",
        "quantity": 1200,
        "declared_value": CNY,
        "ip_right": RIGHT,
        "rights_holder": "Acme Co.",
        "perishable": False,
    },
    "goods.released": {"detention_id": ULID_A, "case_id": ULID_B, "reason": "bond posted"},
    "holder.notified": {
        "notice_id": ULID_A,
        "holder": "Acme Co.",
        "case_id": ULID_B,
        "detention_id": ULID_A,
        "port": "Yangshan",
        "hs_code": "640399",
        "quantity": 1200,
        "ip_right": RIGHT,
        "notified_at": WHEN,
        "respond_by": WHEN,
        "rule_version": "customs.application_and_bond@2018-03-19",
    },
    "holder.applied": {
        "notice_id": ULID_A,
        "holder": "Acme Co.",
        "bond": CNY,
        "application_ref": "ACME-2026-7",
    },
    "holder.declined": {"notice_id": ULID_A, "holder": "Acme Co.", "reason": "licensed goods"},
    "holder.lapsed": {"notice_id": ULID_A, "case_id": ULID_B, "due_at": WHEN},
    "goods.confiscated": {"detention_id": ULID_A, "case_id": ULID_B, "decision_ref": "D-1"},
    "judgment.rendered": {
        "case_id": ULID_B,
        "court_ref": "(2026)沪73刑初1号",
        "verdict": "guilty",
        "sentence": "3 years",
        "fine": {"value": "50000", "currency": "CNY"},
        "rendered_at": WHEN,
    },
    "judgment.appealed": {
        "case_id": ULID_B,
        "court_ref": "(2026)沪73刑初1号",
        "appealed_by": "defendant",
        "appealed_at": WHEN,
        "note": "appeal against the sentence",
    },
    "judgment.final": {
        "case_id": ULID_B,
        "court_ref": "(2026)沪刑终1号",
        "final_at": WHEN,
        "verdict": "appeal dismissed, judgment upheld",
    },
    "prosecution.declined": {
        "case_id": ULID_B,
        "decision_ref": "沪检刑不诉〔2026〕1号",
        "grounds": "the facts are not clear and the evidence is insufficient",
        "decided_at": WHEN,
    },
    "credit.listed": {
        "credit_code": "91350100M000100Y43",
        "party_name": "某某贸易有限公司",
        "credit_list": "serious_violation",
        "grounds": "intentional trademark infringement, heavier penalty imposed",
        "legal_basis": "SAMR Order 44 art. 9 [credit.serious_violation@2021-09-01]",
        "decision_ref": "沪市监列严〔2026〕1号",
        "listed_at": WHEN,
        "removal_from": "2027-03-01",
        "expires_on": "2029-03-01",
    },
    "credit.delisted": {
        "credit_code": "91350100M000100Y43",
        "credit_list": "serious_violation",
        "reason": "early_removal",
        "grounds": "listed one year, obligations met, credit repaired",
        "decision_ref": "沪市监移严〔2027〕1号",
        "delisted_at": WHEN,
    },
    "evidence.attached": {
        "evidence_id": ULID_A,
        "case_id": ULID_B,
        "kind": "inspection_report",
        "title": "Inspection report on 1,200 pairs of shoes",
        "media_type": "application/pdf",
        "size": 48213,
        "sha256": "ab" * 32,
        "object": f"{ULID_B}/{ULID_A}",
    },
    "evidence.received": {
        "evidence_id": ULID_A,
        "case_id": ULID_B,
        "sha256": "ab" * 32,
        "outcome": "verified",
        "reason": "",
    },
    "case.cancelled": {
        "local_ref": "SH-AMR-2026-0001",
        "reason": "opened in error: the goods were genuine",
        "cancelled_at": WHEN,
    },
    "confirmation.issued": {
        "referral_id": ULID_A,
        "case_id": ULID_B,
        "confirmation_ref": "(2026)沪0115民特1号",
        "confirmed": True,
    },
    "oversight.flagged": {
        "oversight_id": ULID_A,
        "case_id": ULID_B,
        "regulator": "amr-shanghai",
        "findings": {
            "offence": "counterfeit_registered_trademark",
            "offender": "unit",
            "committed_on": "2026-01-12",
            "illegal_business_volume": {"value": "120000", "currency": "CNY"},
            "marks": 2,
            "prior_penalty_on": "2025-03-01",
        },
        "threshold_rule": "criminal_threshold.counterfeit_registered_trademark.goods@2025-04-26",
        "legal_source": "法释〔2025〕5号 art. 3",
        "reason": "penalised without a transfer",
        "penalized_at": "2026-03-02T02:00:00Z",
    },
    "oversight.suggested": {
        "oversight_id": ULID_A,
        "case_id": ULID_B,
        "reason": "transfer the case",
        "reply_by": "2026-03-09T16:00:00Z",
        "reply_rule": "oversight.reply@2021-09-06",
    },
    "referral.items_handed_over": {
        "referral_id": ULID_A,
        "case_id": ULID_B,
        "inventory": ["1,200 shirts"],
        "handed_over_at": "2026-03-03T02:00:00Z",
        "due_by": "2026-03-05T16:00:00Z",
        "handover_rule": "transfer.handover@2001-07-09",
    },
    "oversight.answered": {
        "oversight_id": ULID_A,
        "case_id": ULID_B,
        "explanation": "parallel imports",
    },
}


_DELETE = object()


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``path`` (dotted, list indexes as digits) set or deleted."""
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = value
    return out


def test_every_event_type_has_a_valid_example() -> None:
    assert set(VALID) == set(EVENT_MODELS)


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_a_valid_payload_is_accepted_and_survives_a_json_round_trip(event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    payload = model.model_validate(VALID[event_type])
    assert model.model_validate_json(payload.model_dump_json()) == payload


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_a_payload_with_an_unknown_field_is_refused(event_type: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        EVENT_MODELS[event_type].model_validate(VALID[event_type] | {"surprise": 1})


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_a_payload_is_frozen(event_type: str) -> None:
    payload = EVENT_MODELS[event_type].model_validate(VALID[event_type])
    field = next(iter(type(payload).model_fields))
    with pytest.raises(ValidationError, match="frozen"):
        setattr(payload, field, None)


INVALID: list[tuple[str, str, Any, str]] = [
    # (event type, field path, new value or _DELETE, expected error fragment)
    ("case.opened", "local_ref", "", "at least 1 character"),
    ("case.opened", "local_ref", "x" * 65, "at most 64"),
    ("case.opened", "opened_at", "2026-03-01T08:00:00", "timezone"),
    ("case.opened", "ip_rights.0.type", "design", "Input should be"),
    ("case.opened", "ip_rights.0.registration_no", " ", "at least 1 character"),
    ("case.opened", "ip_rights.0.colour", "red", "Extra inputs"),
    ("case.opened", "parties.0.credit_code", "91350100M000100Y44", "check character"),
    ("case.opened", "parties.0.credit_code", "91350100m000100y43", "upper-case"),
    ("case.opened", "parties.0.credit_code", _DELETE, "must carry its unified social credit code"),
    ("case.opened", "parties.0.resident_id", "11010519491231002X", "no resident id"),
    ("case.opened", "parties.0.phone", "call me", "pattern"),
    ("case.opened", "parties.1.resident_id", "110105194912310021", "check character"),
    ("case.opened", "parties.1.role", "witness", "Input should be"),
    ("case.opened", "goods.0.hs_code", "64039", "pattern"),
    ("case.opened", "goods.0.quantity", 0, "greater than 0"),
    ("case.opened", "goods.0.quantity", "12", "valid integer"),
    ("case.opened", "goods.0.quantity", 12.0, "valid integer"),
    ("case.opened", "goods.0.declared_value", {"value": 1.5, "currency": "CNY"}, "never floats"),
    ("case.status_changed", "status", "archived", "Input should be"),
    ("case.closed", "outcome", _DELETE, "Field required"),
    ("referral.issued", "referral_id", "not-a-ulid", "must be a ULID"),
    ("referral.issued", "case_id", ULID_B.lower(), "must be a ULID"),
    ("referral.issued", "kind", "customs_to_court", "Input should be"),
    ("referral.issued", "evidence.0.sha256", "AB" * 32, "pattern"),
    ("referral.issued", "amount", {"value": "-5", "currency": "CNY"}, "greater than or equal to 0"),
    ("referral.issued", "amount", {"value": 5.25, "currency": "CNY"}, "never floats"),
    ("referral.issued", "amount", {"value": "5", "currency": "XYZ"}, "ISO 4217"),
    ("referral.acknowledged", "receipt", _DELETE, "Field required"),
    ("referral.accepted", "local_ref", "", "at least 1 character"),
    ("referral.declined", "reason", "   ", "at least 1 character"),
    ("referral.declined", "reason", _DELETE, "Field required"),
    ("referral.concluded", "outcome", "", "at least 1 character"),
    ("referral.withdrawn", "reason", "", "at least 1 character"),
    ("referral.overdue", "stage", "concluded", "Input should be"),
    ("referral.extended", "stage", "appeal", "Input should be"),
    ("referral.clock_stopped", "ground", "holiday", "Input should be"),
    ("referral.clock_resumed", "referral_id", "x", "must be a ULID"),
    ("referral.overdue", "due_at", "2026-03-01T08:00:00", "timezone"),
    ("referral.decline_upheld", "reason", "", "at least 1 character"),
    ("referral.refusal_explained", "explanation", " ", "at least 1 character"),
    ("referral.copied", "state", "lost", "Input should be"),
    ("referral.copied", "sender", "AMR.SH", "pattern"),
    ("referral.refused", "refused_event_id", "x", "must be a ULID"),
    ("warning.issued", "severity", "urgent", "Input should be"),
    ("warning.issued", "category", "fraud", "Input should be"),
    ("warning.issued", "targets.kinds", ["tax"], "Input should be"),
    ("warning.issued", "targets.hs_prefixes", ["6"], "pattern"),
    ("warning.issued", "targets", _DELETE, "Field required"),
    ("warning.issued", "expires_at", "2026-03-01", "timezone"),
    ("warning.delivered", "warning_id", ULID_B, "differs"),
    ("warning.delivered", "warning.severity", "urgent", "Input should be"),
    ("warning.retracted", "reason", "", "at least 1 character"),
    ("warning.escalated", "deliveries", 0, "greater than or equal to 1"),
    ("warning.escalated", "agency_id", "Customs", "pattern"),
    ("goods.detained", "hs_code", "64039", "pattern"),
    ("goods.detained", "quantity", -1, "greater than 0"),
    ("goods.detained", "declared_value", {"value": "1", "currency": "cny"}, "ISO 4217"),
    ("goods.detained", "ip_right", _DELETE, "Field required"),
    ("goods.released", "reason", _DELETE, "Field required"),
    ("goods.confiscated", "decision_ref", "", "at least 1 character"),
    ("judgment.rendered", "rendered_at", "2026-03-01T08:00:00", "timezone"),
    ("judgment.rendered", "fine", {"value": 1e3, "currency": "CNY"}, "never floats"),
    ("confirmation.issued", "confirmed", "perhaps", "valid boolean"),
    ("judgment.appealed", "appealed_by", "rights_holder", "Input should be"),
    ("judgment.appealed", "court_ref", " ", "at least 1 character"),
    ("judgment.appealed", "appealed_at", "2026-03-01T08:00:00", "timezone"),
    ("judgment.appealed", "case_id", "x", "must be a ULID"),
    ("judgment.final", "final_at", _DELETE, "Field required"),
    ("judgment.final", "final_at", 1772352000, "RFC 3339"),
    ("judgment.final", "court_ref", "", "at least 1 character"),
    ("prosecution.declined", "grounds", "", "at least 1 character"),
    ("prosecution.declined", "decision_ref", _DELETE, "Field required"),
    ("prosecution.declined", "decided_at", "2026-03-01", "timezone"),
    ("credit.listed", "credit_code", "91350100M000100Y44", "check character"),
    ("credit.listed", "credit_list", "blacklist", "Input should be"),
    ("credit.listed", "expires_on", "2026-01-01", "listed_at <= removal_from <= expires_on"),
    ("credit.delisted", "reason", "forgiven", "Input should be"),
    ("credit.delisted", "decision_ref", _DELETE, "Field required"),
    ("evidence.attached", "size", 0, "greater than 0"),
    ("evidence.attached", "sha256", "AB" * 32, "should match pattern"),
    ("evidence.attached", "kind", "video", "Input should be"),
    ("evidence.attached", "object", "elsewhere/x", "<case_id>/<evidence_id>"),
    ("evidence.attached", "media_type", "pdf", "should match pattern"),
    ("evidence.received", "outcome", "lost", "Input should be"),
    ("evidence.received", "sha256", _DELETE, "Field required"),
    ("case.cancelled", "reason", " ", "at least 1 character"),
    ("holder.notified", "quantity", 0, "greater than 0"),
    ("holder.notified", "notified_at", "2026-03-01T08:00:00", "timezone"),
    ("holder.applied", "bond", {"value": 1e3, "currency": "CNY"}, "never floats"),
    ("holder.applied", "holder", " ", "at least 1 character"),
    ("holder.declined", "reason", _DELETE, "Field required"),
    ("holder.lapsed", "notice_id", "x", "must be a ULID"),
    ("case.cancelled", "local_ref", _DELETE, "Field required"),
    ("case.cancelled", "cancelled_at", "2026-03-01T08:00:00", "timezone"),
    ("oversight.flagged", "findings.offence", "patent_passing_off", "Input should be"),
    ("oversight.flagged", "findings.marks", 0, "greater than or equal to 1"),
    ("oversight.flagged", "findings.prior_penalty_on", "2026-02-01", "on or before the act"),
    ("oversight.flagged", "findings.committed_on", _DELETE, "Field required"),
    ("oversight.flagged", "regulator", "AMR.SH", "pattern"),
    ("oversight.suggested", "reply_by", "2026-03-09T16:00:00", "timezone"),
    ("oversight.answered", "explanation", " ", "at least 1 character"),
    ("referral.items_handed_over", "inventory", [], "at least 1 item"),
]


@pytest.mark.parametrize(("event_type", "path", "value", "fragment"), INVALID)
def test_an_invalid_payload_is_refused_for_the_right_reason(
    event_type: str, path: str, value: Any, fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        EVENT_MODELS[event_type].model_validate(_with(VALID[event_type], path, value))


def test_a_json_float_amount_is_refused_inside_a_payload() -> None:
    body = CaseOpened.model_validate(VALID["case.opened"]).model_dump_json()
    assert '"value":"1250.00"' in body
    with pytest.raises(ValidationError, match="never floats"):
        CaseOpened.model_validate_json(body.replace('"value":"1250.00"', '"value":1250.0'))


def test_timestamps_are_normalised_to_utc() -> None:
    opened = CaseOpened.model_validate(VALID["case.opened"]).opened_at
    assert opened.tzinfo is UTC
    assert opened == datetime(2026, 3, 1, 0, 0, tzinfo=timezone(timedelta(0)))


def test_text_is_stripped_of_surrounding_whitespace() -> None:
    changed = EVENT_MODELS["case.status_changed"].model_validate(
        VALID["case.status_changed"] | {"local_ref": "  A-1  "}
    )
    assert changed.model_dump()["local_ref"] == "A-1"


def test_a_natural_person_needs_no_credit_code_and_goods_default_to_pieces() -> None:
    person = Party.model_validate(PERSON)
    assert person.credit_code is None
    assert Goods.model_validate({"description": "bags", "quantity": 3}).unit == "piece"


def test_a_delivered_warning_carries_the_whole_warning() -> None:
    delivered = WarningDelivered.model_validate(VALID["warning.delivered"])
    assert delivered.warning == WarningIssued.model_validate(WARNING)


def test_empty_warning_targets_mean_any() -> None:
    issued = WarningIssued.model_validate(WARNING | {"targets": {}})
    assert issued.targets.kinds == []
    assert issued.targets.regions == []


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_the_event_type_is_a_class_attribute_not_a_wire_field(event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    assert issubclass(model, Payload)
    assert model.event_type == event_type
    assert "event_type" not in model.model_fields
