"""Event signatures (DESIGN §4): ed25519 by the sender's nkey over canonical JSON."""

import json
import os
import stat
from pathlib import Path
from typing import Any

import nkeys
import pytest
from nacl.signing import SigningKey

from contracts.cases import CaseClosed
from contracts.envelope import Envelope, EnvelopeRejected, Event, RejectReason, decode_event
from services.runtime.identity import (
    AgencyKey,
    generate_seed,
    load_or_create_key,
    public_key_bytes,
    sign_envelope,
    verify_event,
)
from tests.unit.builders import CUSTOMS, envelope_for, goods_detained, subject_for, wire

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"


@pytest.fixture(scope="module")
def customs_key() -> AgencyKey:
    return AgencyKey(generate_seed())


@pytest.fixture(scope="module")
def other_key() -> AgencyKey:
    return AgencyKey(generate_seed())


def detained_envelope() -> Envelope:
    return envelope_for(goods_detained(CASE_ID), case_id=CASE_ID)


def signed_event(key: AgencyKey) -> Event:
    return decode_event(*wire(sign_envelope(detained_envelope(), key)))


def refusal(event: Event, keys: list[str]) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        verify_event(event, keys)
    return caught.value


def redecoded(raw: dict[str, Any], subject: str, **dumps: Any) -> Event:
    return decode_event(json.dumps(raw, ensure_ascii=False, **dumps).encode(), subject)


def test_a_fresh_seed_is_a_user_seed_and_its_public_key_a_user_key(
    customs_key: AgencyKey,
) -> None:
    assert customs_key.seed.startswith(b"SU")
    assert customs_key.public_key.startswith("U")
    assert len(customs_key.public_key) == 56


def test_an_event_signed_by_the_sender_verifies_with_its_public_key(
    customs_key: AgencyKey,
) -> None:
    event = signed_event(customs_key)

    assert event.envelope.signature
    verify_event(event, [customs_key.public_key])


def test_signing_leaves_the_rest_of_the_envelope_as_it_was(customs_key: AgencyKey) -> None:
    envelope = detained_envelope()

    signed = sign_envelope(envelope, customs_key)

    assert envelope.signature is None
    assert signed.model_dump(exclude={"signature"}) == envelope.model_dump(exclude={"signature"})


def test_an_event_signed_by_another_agency_does_not_verify(
    customs_key: AgencyKey, other_key: AgencyKey
) -> None:
    refused = refusal(signed_event(other_key), [customs_key.public_key])

    assert refused.reason is RejectReason.BAD_SIGNATURE
    assert CUSTOMS in refused.detail


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        pytest.param("data", "quantity", 12, id="quantity"),
        pytest.param("data", "port", "Ningbo", id="port"),
        pytest.param("envelope", "subject", "01JABCDEFGHJKMNPQRSTVWXYZ9", id="case-id"),
        pytest.param("envelope", "causationid", "01JABCDEFGHJKMNPQRSTVWXYZ8", id="added-attr"),
    ],
)
def test_a_tampered_event_does_not_verify(
    customs_key: AgencyKey, where: str, field: str, value: Any
) -> None:
    signed = sign_envelope(detained_envelope(), customs_key)
    body, _ = wire(signed)
    raw = json.loads(body)
    (raw["data"] if where == "data" else raw)[field] = value
    # the tamperer publishes on the subject the tampered event belongs on (its case's key),
    # so the subject is no give-away: the signature is what catches it
    subject = subject_for(Envelope.model_validate(raw))

    refused = refusal(redecoded(raw, subject), [customs_key.public_key])

    assert refused.reason is RejectReason.BAD_SIGNATURE


def test_an_unsigned_event_is_refused_as_unsigned(customs_key: AgencyKey) -> None:
    event = decode_event(*wire(detained_envelope()))

    refused = refusal(event, [customs_key.public_key])

    assert refused.reason is RejectReason.UNSIGNED
    assert event.id in refused.detail


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param("abcde", id="impossible-length"),
        pytest.param("%%%%", id="no-base64-at-all"),
        pytest.param("c2lnbmF0dXJl", id="valid-base64-wrong-length"),
        pytest.param("A" * 86, id="right-length-wrong-bytes"),
    ],
)
def test_signature_text_that_is_not_a_signature_is_a_bad_signature(
    customs_key: AgencyKey, garbage: str
) -> None:
    signed = sign_envelope(detained_envelope(), customs_key)
    body, subject = wire(signed.model_copy(update={"signature": garbage}))

    refused = refusal(decode_event(body, subject), [customs_key.public_key])

    assert refused.reason is RejectReason.BAD_SIGNATURE


def test_during_rotation_an_event_signed_by_the_previous_key_still_verifies(
    customs_key: AgencyKey, other_key: AgencyKey
) -> None:
    new_key, old_key = other_key, customs_key

    verify_event(signed_event(old_key), [new_key.public_key, old_key.public_key])
    verify_event(signed_event(new_key), [new_key.public_key, old_key.public_key])


def test_with_no_registered_key_nothing_verifies(customs_key: AgencyKey) -> None:
    refused = refusal(signed_event(customs_key), [])

    assert refused.reason is RejectReason.BAD_SIGNATURE


def test_a_malformed_registered_key_is_skipped_not_fatal(customs_key: AgencyKey) -> None:
    verify_event(signed_event(customs_key), ["not-a-key", customs_key.public_key])


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


def test_an_event_reserialised_by_an_outside_sender_still_verifies(
    customs_key: AgencyKey,
) -> None:
    signed = sign_envelope(detained_envelope(), customs_key)
    body, subject = wire(signed)
    outside_body = json.dumps(_reversed_keys(json.loads(body)), indent=2).encode()
    assert outside_body != body
    assert b"\n" in outside_body

    event = decode_event(outside_body, subject)

    assert next(iter(event.raw)) == "type"
    verify_event(event, [customs_key.public_key])


def test_an_outside_event_with_extensions_verifies_over_what_was_received(
    customs_key: AgencyKey,
) -> None:
    """A newer sender adds an extension and signs it; an older receiver keeps and checks it."""
    signed = sign_envelope(detained_envelope(), customs_key)
    raw = json.loads(wire(signed)[0])
    raw["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    raw["signature"] = customs_key.sign(
        json.dumps(
            {k: v for k, v in raw.items() if k != "signature"},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    )

    verify_event(redecoded(raw, subject_for(signed), indent=1), [customs_key.public_key])


# --- public keys ---------------------------------------------------------------------------------


def test_the_raw_key_inside_a_public_key_is_the_32_byte_verify_key(
    customs_key: AgencyKey,
) -> None:
    raw = public_key_bytes(customs_key.public_key)

    assert len(raw) == 32
    # the verify key derived straight from the seed, as an independent check
    _prefix, seed = nkeys.decode_seed(bytearray(customs_key.seed))
    assert raw == SigningKey(bytes(seed)).verify_key.encode()


def _flip_one_char(text: str, at: int) -> str:
    replacement = "B" if text[at] != "B" else "C"
    return text[:at] + replacement + text[at + 1 :]


def _account_public_key() -> str:
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT)
    public: bytes = nkeys.from_seed(bytearray(seed)).public_key
    return public.decode()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda key: key.seed.decode(), "not a NATS user public key", id="seed"),
        pytest.param(
            lambda key: _flip_one_char(key.public_key, 20), "bad checksum", id="flipped-char"
        ),
        pytest.param(
            lambda _key: _account_public_key(), "not a NATS user public key", id="account-key"
        ),
        pytest.param(lambda key: key.public_key[:-4], "not a NATS user public key", id="truncated"),
        pytest.param(lambda key: key.public_key.lower(), "not base32", id="lower-case"),
        pytest.param(lambda _key: "U" + "1" * 55, "not base32", id="not-base32"),
    ],
)
def test_something_that_is_not_a_user_public_key_is_refused(
    customs_key: AgencyKey, make: Any, fragment: str
) -> None:
    text = make(customs_key)

    with pytest.raises(ValueError, match=fragment):
        public_key_bytes(text)


# --- key files -----------------------------------------------------------------------------------


def test_a_key_file_is_created_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "customs-shanghai.nk"

    first = load_or_create_key(path)
    content = path.read_bytes()
    second = load_or_create_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == content
    assert content.startswith(b"SU")
    assert second.public_key == first.public_key


def test_a_key_loaded_from_file_signs_what_its_public_key_verifies(tmp_path: Path) -> None:
    path = tmp_path / "agency.nk"
    load_or_create_key(path)
    reloaded = load_or_create_key(path)

    verify_event(signed_event(reloaded), [AgencyKey(path.read_bytes()).public_key])


def test_two_key_files_hold_different_keys(tmp_path: Path) -> None:
    one = load_or_create_key(tmp_path / "one.nk")
    two = load_or_create_key(tmp_path / "two.nk")

    assert one.public_key != two.public_key


def test_a_case_closed_event_signs_and_verifies_too(customs_key: AgencyKey) -> None:
    envelope = envelope_for(CaseClosed(local_ref="R-1", outcome="done"), case_id=CASE_ID)

    verify_event(
        decode_event(*wire(sign_envelope(envelope, customs_key))), [customs_key.public_key]
    )
