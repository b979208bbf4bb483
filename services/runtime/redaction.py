"""Keep personal data out of the logs: a structlog processor, and the rules it applies.

Resident ID numbers and mainland mobile numbers are found by pattern anywhere in a log
line (message, values, exception text). Names cannot be found by pattern, so they are
found by place: the ``name`` of a party-like mapping that is not a legal person, and any
key that only ever holds a person's name or contact details.
"""

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from pydantic import BaseModel

__all__ = ["REDACTED", "redact", "redact_personal_data", "redact_text"]

REDACTED = "[redacted]"

_EDGE_BEFORE = r"(?<![0-9A-Za-z])"
_EDGE_AFTER = r"(?![0-9A-Za-z])"
RESIDENT_ID = re.compile(
    _EDGE_BEFORE
    + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    + _EDGE_AFTER
)
MOBILE = re.compile(_EDGE_BEFORE + r"(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}" + _EDGE_AFTER)

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
    }
)
"""Keys whose value is personal data wherever they appear."""

NAME_KEYS = frozenset({"name", "display_name"})
PARTY_HINTS = frozenset({"role", "resident_id", "phone", "address"})
LEGAL_PERSON = "legal_person"


def redact_text(text: str) -> str:
    """``text`` with ID numbers and mobile numbers replaced."""
    return MOBILE.sub(REDACTED, RESIDENT_ID.sub(REDACTED, text))


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
