"""Keep personal data and secrets out of logs and letters: a structlog processor, and rules.

Personal data (:mod:`services.runtime.privacy.personal_data`: ID numbers, phones, e-mail, passports,
addresses, introduced names) and secrets (nkey seeds, private keys, JWTs) are found by
pattern anywhere in a log line (message, values, exception text), a dead letter's detail or
an audit row's detail. Names that no role introduces cannot be found by pattern, so they
are also found by place: the ``name`` of a party-like mapping that is not a legal person, and any
key that only ever holds a person's name or contact details.
"""

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from pydantic import BaseModel

from contracts.identifiers import is_ulid
from services.runtime.privacy.personal_data import replace_personal_data

__all__ = ["REDACTED", "redact", "redact_personal_data", "redact_text"]

REDACTED = "[redacted]"

SECRET = re.compile(
    r"(?<![A-Z0-9])S[UAONCXP][A-Z2-7]{40,}(?![A-Z2-7])"  # an nkey seed
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # a JWT (NATS user creds)
)
"""Secrets that have no business in a log line or a dead letter."""

PERSONAL_KEYS = frozenset(
    {
        "resident_id",
        "id_number",
        "phone",
        "mobile",
        "address",
        "person_name",
        "full_name",
        "contact_name",
        "contact_phone",
        "email",
        "passport",
        "seed",
        "password",
        "secret",
    }
)
"""Keys whose value is personal data wherever they appear."""

NAME_KEYS = frozenset({"name", "display_name"})
PARTY_HINTS = frozenset({"role", "resident_id", "phone", "address"})
LEGAL_PERSON = "legal_person"


def redact_text(text: str) -> str:
    """``text`` without secrets or any personal data :mod:`personal_data` can find."""
    if is_ulid(text) and not text.isdigit():  # ids on every line: the scan is not free
        return text
    return replace_personal_data(SECRET.sub(REDACTED, text), lambda _kind, _value: REDACTED)


def _is_person(mapping: Mapping[Any, Any]) -> bool:
    """A party-like mapping that is not known to be a legal person."""
    kind = mapping.get("kind")
    if kind == "natural_person":
        return True
    if kind == LEGAL_PERSON or mapping.get("credit_code"):
        return False
    return any(hint in mapping for hint in PARTY_HINTS)


def redact(value: Any) -> Any:
    """A copy of ``value`` (mappings, sequences, models, strings) without personal data."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        person = _is_person(value)
        return {
            key: REDACTED if key in PERSONAL_KEYS or (person and key in NAME_KEYS) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """structlog processor: run after ``format_exc_info`` and before the renderer."""
    return {
        key: REDACTED if key in PERSONAL_KEYS else redact(item) for key, item in event_dict.items()
    }
