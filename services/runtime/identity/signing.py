"""Event signatures (DESIGN §4): ed25519 by the sender's NATS nkey.

The signature is base64url over :func:`contracts.envelope.signing_input`. Verification
uses only public keys from the registry — the current one, and a previous one during a
key rotation's grace period.
"""

import base64
import binascii
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import nkeys
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from contracts.envelope import Envelope, EnvelopeRejected, Event, RejectReason, signing_input
from services.runtime.identity.secret_files import create_once

__all__ = [
    "AgencyKey",
    "generate_seed",
    "load_or_create_key",
    "public_key_bytes",
    "sign_envelope",
    "verify_event",
]


def generate_seed() -> bytes:
    """A fresh NATS user nkey seed (``SU...``)."""
    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed


class AgencyKey:
    """An agency's signing key, loaded once (key objects are cached, not rebuilt per event)."""

    def __init__(self, seed: bytes) -> None:
        self._pair = nkeys.from_seed(bytearray(seed.strip()))
        self.seed = seed.strip()
        self.public_key: str = self._pair.public_key.decode()

    def sign(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(self._pair.sign(data)).rstrip(b"=").decode()


def load_or_create_key(path: Path) -> AgencyKey:
    """The key stored at ``path``; a new one written there (mode 0600) when absent.

    Created whole and once (:func:`create_once`), so services starting together share it.
    """
    create_once(path, generate_seed() + b"\n")
    return AgencyKey(path.read_bytes())


@lru_cache(maxsize=1024)
def public_key_bytes(public_key: str) -> bytes:
    """The raw 32-byte ed25519 key inside a ``U...`` nkey (prefix and CRC checked)."""
    try:
        raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))
    except binascii.Error as exc:
        raise ValueError(f"{public_key[:8]}… is not base32") from exc
    if len(raw) != 35 or raw[0] != nkeys.PREFIX_BYTE_USER:
        raise ValueError(f"{public_key[:8]}… is not a NATS user public key")
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if nkeys.crc16(bytearray(body)) != crc:
        raise ValueError(f"{public_key[:8]}… has a bad checksum")
    return body[1:]


@lru_cache(maxsize=1024)
def _verify_key(public_key: str) -> VerifyKey:
    return VerifyKey(public_key_bytes(public_key))


def sign_envelope(envelope: Envelope, key: AgencyKey) -> Envelope:
    """``envelope`` with its ``signature`` attribute set by ``key``."""
    return envelope.model_copy(update={"signature": key.sign(signing_input(envelope))})


def verify_event(event: Event, public_keys: Iterable[str]) -> None:
    """Raise :class:`EnvelopeRejected` unless one of ``public_keys`` signed ``event``.

    Checked over the JSON as received, not as re-serialised here, so a sender written in
    another language verifies as long as it signed what it sent.
    """
    envelope = event.envelope
    if not envelope.signature:
        raise EnvelopeRejected(RejectReason.UNSIGNED, f"event {envelope.id} carries no signature")
    try:
        signature = base64.urlsafe_b64decode(
            envelope.signature + "=" * (-len(envelope.signature) % 4)
        )
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeRejected(RejectReason.BAD_SIGNATURE, "signature is not base64url") from exc
    message = event.signed_bytes
    for public_key in public_keys:
        try:
            _verify_key(public_key).verify(message, signature)
        except (BadSignatureError, ValueError):
            continue
        return
    raise EnvelopeRejected(
        RejectReason.BAD_SIGNATURE,
        f"signature of event {envelope.id} does not verify against "
        f"{envelope.sender}'s registered key",
    )
