"""Small builders for valid payloads and events, shared by the unit tests."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contracts.agencies import IpType
from contracts.base import Payload
from contracts.cases import IpRight
from contracts.customs import GoodsDetained
from contracts.envelope import (
    Envelope,
    Event,
    decode_event,
    encode_envelope,
    new_envelope,
    publish_subject,
)
from contracts.identifiers import Money, new_ulid
from contracts.referrals import ReferralIssued, ReferralKind

CUSTOMS = "customs-shanghai"
AMR = "amr-shanghai"
PSB = "psb-shanghai"
CREDIT_CODE = "91350100M000100Y43"
WHEN = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def trademark() -> IpRight:
    return IpRight(type=IpType.TRADEMARK, registration_no="12345678", holder="Acme Co.")


def cny(value: str) -> Money:
    return Money(value=Decimal(value), currency="CNY")


def goods_detained(case_id: str, **changes: Any) -> GoodsDetained:
    fields: dict[str, Any] = {
        "detention_id": new_ulid(),
        "case_id": case_id,
        "port": "Shanghai Pudong",
        "hs_code": "6403990090",
        "quantity": 1200,
        "declared_value": cny("1250.00"),
        "ip_right": trademark(),
        "rights_holder": "Acme Co.",
    }
    return GoodsDetained(**(fields | changes))


def referral_issued(case_id: str, referral_id: str | None = None) -> ReferralIssued:
    return ReferralIssued(
        referral_id=referral_id or new_ulid(),
        case_id=case_id,
        kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
        reason="counterfeit trademark on 1200 pairs",
        legal_basis="Trademark Law art. 60",
        summary="Detained at Shanghai Pudong",
    )


def envelope_for(
    payload: Payload, *, sender: str = CUSTOMS, case_id: str | None = None, **kw: Any
) -> Envelope:
    return new_envelope(sender=sender, payload=payload, now=WHEN, case_id=case_id, **kw)


def subject_for(envelope: Envelope, recipient: str = AMR) -> str:
    return publish_subject(envelope, recipient)


def wire(envelope: Envelope, recipient: str = AMR) -> tuple[bytes, str]:
    """The body and subject a sender would publish ``envelope`` with."""
    return encode_envelope(envelope), subject_for(envelope, recipient)


def decoded(envelope: Envelope, recipient: str = AMR) -> Event:
    return decode_event(*wire(envelope, recipient))
