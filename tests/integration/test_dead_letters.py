"""Bad input never stops a service: each kind lands on IPBUS_DLQ with a clear reason.

Every message below is published on an ``ipbus.v1`` subject addressed to the
coordinator, so exactly one consumer refuses it. The original body and subject are kept
for replay, the message is acknowledged (it does not loop), and the bus carries on: a
valid event sent afterwards is applied.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import nats
import pytest

from contracts.agencies import IpType
from contracts.cases import (
    CaseOpened,
    CaseStatus,
    CaseStatusChanged,
    IpRight,
    Party,
    PartyKind,
    PartyRole,
)
from contracts.envelope import RejectReason, encode_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, DLQ_STREAM, parse_event_subject
from services.runtime.bus import (
    DLQ_CONSUMER_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_ORIGINAL_SUBJECT_HEADER,
    DLQ_REASON_HEADER,
)
from services.runtime.identity import Settings
from services.sdk import Bus, query_case
from tests.integration.wire import (
    coordinator_pending,
    dead_letters,
    publish,
    signed,
    to_coordinator,
    wait_until,
)

pytestmark = pytest.mark.integration

SENDER = "customs-shanghai"


def _opened(title: str = "Counterfeit handbags") -> CaseOpened:
    return CaseOpened(
        local_ref="SH-CUS-T-1",
        title=title,
        ip_rights=[IpRight(type=IpType.TRADEMARK, registration_no="G1", holder="Maison A")],
        parties=[
            Party(
                kind=PartyKind.LEGAL_PERSON,
                role=PartyRole.CONSIGNEE,
                name="Haixin Trading Co., Ltd.",
                credit_code="91350100M000100Y43",
            )
        ],
        goods=[],
        opened_at=datetime.now(UTC),
    )


def _wire(settings: Settings, **changes: Any) -> dict[str, Any]:
    """A valid, signed case.opened as a JSON object, then changed (and not re-signed)."""
    body: dict[str, Any] = json.loads(
        encode_envelope(signed(settings, SENDER, _opened(), case_id=new_ulid()))
    )
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body


def _resigned(settings: Settings, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A case.opened whose data is changed *before* signing: the signature is valid."""
    from contracts.envelope import signing_input
    from services.runtime.identity import AgencyKey, key_path

    body: dict[str, Any] = json.loads(
        encode_envelope(signed(settings, SENDER, _opened(), case_id=new_ulid()))
    )
    body.pop("signature")
    mutate(body)
    key = AgencyKey(key_path(settings.keys_dir, SENDER).read_bytes())
    body["signature"] = key.sign(signing_input(body))
    return body


def _sent(
    body: dict[str, Any], *, sender: str = SENDER, event_type: str = "case.opened"
) -> tuple[str, dict[str, Any]]:
    """``body`` addressed to the coordinator on a well-shaped subject keyed on its case
    (the envelope's ``subject``, its partition key), so only the body is at fault."""
    return to_coordinator(sender, event_type, body["subject"]), body


def _float_money(body: dict[str, Any]) -> None:
    body["data"]["goods"] = [
        {"description": "bags", "quantity": 5, "declared_value": {"value": 12.5, "currency": "CNY"}}
    ]


def _negative_money(body: dict[str, Any]) -> None:
    body["data"]["goods"] = [
        {"description": "bags", "quantity": 5, "declared_value": {"value": "-1", "currency": "CNY"}}
    ]


def _unknown_party_kind(body: dict[str, Any]) -> None:
    body["data"]["parties"][0]["kind"] = "shell_company"


def _bad_credit_code(body: dict[str, Any]) -> None:
    body["data"]["parties"][0]["credit_code"] = "91350100M000100Y44"


CATALOGUE: list[
    tuple[str, Callable[[Settings], tuple[str, bytes | dict[str, Any]]], RejectReason, str]
] = [
    (
        "not JSON",
        lambda s: (to_coordinator(SENDER, "case.opened", new_ulid()), b"\x00not json"),
        RejectReason.NOT_JSON,
        "not JSON",
    ),
    (
        "a JSON array",
        lambda s: (to_coordinator(SENDER, "case.opened", new_ulid()), b"[1, 2]"),
        RejectReason.NOT_CLOUDEVENT,
        "not an object",
    ),
    (
        "a CloudEvent without id",
        lambda s: _sent({k: v for k, v in _wire(s).items() if k != "id"}),
        RejectReason.NOT_CLOUDEVENT,
        "id",
    ),
    (
        "an unknown type",
        lambda s: _sent(_wire(s, type="ipbus.case.reopened.v1"), event_type="case.reopened"),
        RejectReason.UNKNOWN_TYPE,
        "case.reopened",
    ),
    (
        "an unsupported version",
        lambda s: _sent(_wire(s, type="ipbus.case.opened.v2")),
        RejectReason.UNSUPPORTED_VERSION,
        "v2",
    ),
    (
        "a source other than the subject's sender",
        lambda s: _sent(_wire(s, source="/agencies/amr-shanghai")),
        RejectReason.SOURCE_MISMATCH,
        "amr-shanghai",
    ),
    (
        "a bad credit code",
        lambda s: _sent(_resigned(s, _bad_credit_code)),
        RejectReason.INVALID_PAYLOAD,
        "credit_code",
    ),
    (
        "an unknown enum value",
        lambda s: _sent(_resigned(s, _unknown_party_kind)),
        RejectReason.INVALID_PAYLOAD,
        "parties.0.kind",
    ),
    (
        "money as a float",
        lambda s: _sent(_resigned(s, _float_money)),
        RejectReason.INVALID_PAYLOAD,
        "never floats",
    ),
    (
        "negative money",
        lambda s: _sent(_resigned(s, _negative_money)),
        RejectReason.INVALID_PAYLOAD,
        "value",
    ),
    (
        "an unsigned event",
        lambda s: _sent({k: v for k, v in _wire(s).items() if k != "signature"}),
        RejectReason.UNSIGNED,
        "no signature",
    ),
    (
        "an event altered after signing",
        lambda s: _sent(_wire(s, data__title="Something else")),
        RejectReason.BAD_SIGNATURE,
        "does not verify",
    ),
    (
        "an event signed by another agency",
        lambda s: _sent(
            json.loads(
                encode_envelope(
                    signed(s, SENDER, _opened(), case_id=new_ulid(), signer="amr-shanghai")
                )
            )
        ),
        RejectReason.BAD_SIGNATURE,
        "does not verify",
    ),
    (
        "an unregistered sender",
        lambda s: _sent(_wire(s, source="/agencies/customs-atlantis"), sender="customs-atlantis"),
        RejectReason.UNKNOWN_SENDER,
        "customs-atlantis",
    ),
    (
        "a subject keyed on another case",
        lambda s: (to_coordinator(SENDER, "case.opened", new_ulid()), _wire(s)),
        RejectReason.BAD_SUBJECT,
        "is not the event's partition key",
    ),
    (
        "an oversized message",
        lambda s: (
            to_coordinator(SENDER, "case.opened", new_ulid()),
            b"x" * (s.max_message_bytes + 1),
        ),
        RejectReason.OVERSIZED,
        "over the limit",
    ),
]


@pytest.mark.parametrize(
    ("build", "reason", "detail"), [pytest.param(b, r, d, id=name) for name, b, r, d in CATALOGUE]
)
async def test_bad_input_is_dead_lettered_with_its_reason_and_the_bus_carries_on(
    bus: Bus,
    build: Callable[[Settings], tuple[str, bytes | dict[str, Any]]],
    reason: RejectReason,
    detail: str,
) -> None:
    subject, body = build(bus.settings)
    nc = await nats.connect(bus.nats_url)
    try:
        await publish(nc, subject, body, msg_id=new_ulid())
        (letter,) = await dead_letters(nc, at_least=1)
        headers = letter.headers or {}
        assert headers[DLQ_REASON_HEADER] == reason.value
        assert detail in headers[DLQ_DETAIL_HEADER]
        assert headers[DLQ_CONSUMER_HEADER] == "coordinator"
        # kept as the stream stored it (partition token added); it names what was published
        stored = parse_event_subject(headers[DLQ_ORIGINAL_SUBJECT_HEADER])
        assert stored.partition is not None
        assert str(stored) == subject
        sent = body if isinstance(body, bytes) else json.dumps(body).encode()
        assert letter.data == sent

        case_id = new_ulid()
        valid = signed(bus.settings, SENDER, _opened(), case_id=case_id)
        await publish(nc, publish_subject(valid, COORDINATOR), valid)

        async def applied() -> bool:
            reply = await query_case(nc, requester=SENDER, case_id=case_id)
            return reply.case is not None

        await wait_until(applied, what="a valid event after the bad one")
        _, ack_pending = await coordinator_pending(nc.jetstream())
        assert ack_pending == 0
        assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 1
    finally:
        await nc.close()


async def test_the_same_event_delivered_twice_is_applied_once(bus: Bus) -> None:
    nc = await nats.connect(bus.nats_url)
    try:
        case_id = new_ulid()
        opened = signed(bus.settings, SENDER, _opened(), case_id=case_id)
        changed = signed(
            bus.settings,
            SENDER,
            CaseStatusChanged(local_ref="SH-CUS-T-1", status=CaseStatus.INVESTIGATING),
            case_id=case_id,
        )
        for envelope in (opened, opened, changed):
            # a fresh Nats-Msg-Id each time gets past JetStream's de-duplication,
            # as a re-send after the duplicate window would
            await publish(nc, publish_subject(envelope, COORDINATOR), envelope, msg_id=new_ulid())

        async def both_applied() -> bool:
            reply = await query_case(nc, requester=SENDER, case_id=case_id)
            return reply.case is not None and reply.case.status is CaseStatus.INVESTIGATING

        await wait_until(both_applied, what="the status change")
        reply = await query_case(nc, requester=SENDER, case_id=case_id)
        assert reply.case is not None
        assert [e.event_type for e in reply.case.timeline] == ["case.opened", "case.status_changed"]
        assert (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages == 0
    finally:
        await nc.close()


async def test_a_different_event_reusing_an_id_is_dead_lettered_as_a_conflicting_duplicate(
    bus: Bus,
) -> None:
    nc = await nats.connect(bus.nats_url)
    try:
        event_id = new_ulid()
        first = signed(
            bus.settings, SENDER, _opened("First"), case_id=new_ulid(), event_id=event_id
        )
        second = signed(
            bus.settings, SENDER, _opened("Second"), case_id=new_ulid(), event_id=event_id
        )
        await publish(nc, publish_subject(first, COORDINATOR), first, msg_id=new_ulid())
        await publish(nc, publish_subject(second, COORDINATOR), second, msg_id=new_ulid())
        (letter,) = await dead_letters(nc, at_least=1)
        assert (letter.headers or {})[DLQ_REASON_HEADER] == RejectReason.CONFLICTING_DUPLICATE.value
        # two cases, two partitions applied at once (issue 18): whichever is applied first
        # holds the id, and the other is the conflicting duplicate
        lettered = json.loads(letter.data or b"")["data"]["title"]
        assert lettered in ("First", "Second")
        kept = first if lettered == "Second" else second

        async def kept_applied() -> bool:
            reply = await query_case(nc, requester=COORDINATOR, case_id=kept.subject or "")
            return reply.case is not None

        await wait_until(kept_applied, what="the event that kept the id applied")
        lost = second if kept is first else first
        lost_reply = await query_case(nc, requester=COORDINATOR, case_id=lost.subject or "")
        assert lost_reply.case is None
    finally:
        await nc.close()
