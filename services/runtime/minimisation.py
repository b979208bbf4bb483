"""Data minimisation for what leaves the country (DESIGN §6), pure.

Everything addressed to an agency of kind ``overseas`` passes through
:func:`minimise_envelope` before it is signed:

* a natural person (a party of kind ``natural_person``) keeps only a stable keyed pseudonym
  for a name; resident id, phone and address are removed;
* anywhere in the payload's text, resident identity numbers and mainland mobile numbers are
  replaced by keyed pseudonyms, and the natural persons' names found in the payload are
  replaced by their pseudonyms;
* companies' names and unified social credit codes stay.

Pseudonyms are HMAC-SHA256 under a secret the sender keeps, written in letters only (so a
pseudonym can never itself look like a number), stable so that the centre can correlate
without learning identity. Each change is reported as a :class:`Minimisation` (where and
what, never the value) for the sender to record.
"""

import hashlib
import hmac
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.envelope import DataClassification, Envelope
from contracts.events import payload_model
from contracts.identifiers import is_resident_id

__all__ = [
    "MINIMISED_EXTENSION",
    "MOBILE_PATTERN",
    "Minimisation",
    "Pseudonymiser",
    "minimise_data",
    "minimise_envelope",
    "scrub_text",
]

MINIMISED_EXTENSION = "minimisedfields"
"""Envelope extension: how many fields the sender's minimisation policy changed."""

MOBILE_PATTERN = re.compile(r"(?<![0-9])(?:\+?86[ -]*)?1[ -]*[3-9](?:[ -]*[0-9]){9}(?![0-9])")
"""A mainland mobile number as people write it: optional +86, spaces or hyphens anywhere."""

_ID_RUN = re.compile(r"[0-9X]{18,}")
_NATURAL = "natural_person"
_REMOVED_FROM_PERSONS = ("resident_id", "phone", "address")
_KEPT = ("credit_code",)


@dataclass(frozen=True, slots=True)
class Minimisation:
    """One change: ``path`` (``parties[0].name``) and ``action`` (removed/pseudonymised/...)."""

    path: str
    action: str


class Pseudonymiser:
    """Stable keyed pseudonyms: the same value and key always give the same token."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonymisation key needs at least 16 bytes")
        self._key = key

    def token(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()
        letters = "".join(string.ascii_lowercase[b % 26] for b in digest[:12])
        return f"{kind}-{letters}"


def _replace_id_runs(text: str, pseudo: Pseudonymiser) -> str:
    def one(match: re.Match[str]) -> str:
        run = match.group()
        windows = (run[i : i + 18] for i in range(len(run) - 17))
        return f"[{pseudo.token('id', run)}]" if any(map(is_resident_id, windows)) else run

    return _ID_RUN.sub(one, text)


def _replace_mobiles(text: str, pseudo: Pseudonymiser) -> str:
    def one(match: re.Match[str]) -> str:
        digits = re.sub(r"[^0-9]", "", match.group())[-11:]
        return f"[{pseudo.token('phone', digits)}]"

    return MOBILE_PATTERN.sub(one, text)


def scrub_text(text: str, pseudo: Pseudonymiser, names: dict[str, str] | None = None) -> str:
    """``text`` without resident ids, mobile numbers or the given names (→ pseudonyms)."""
    for name, token in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(name, token)
    while True:  # removing one number may expose another; digits only ever decrease
        scrubbed = _replace_mobiles(_replace_id_runs(text, pseudo), pseudo)
        if scrubbed == text:
            return text
        text = scrubbed


def _persons(data: Any, pseudo: Pseudonymiser, found: dict[str, str]) -> None:
    if isinstance(data, dict):
        if data.get("kind") == _NATURAL and isinstance(data.get("name"), str):
            found[data["name"]] = pseudo.token("person", data["name"])
        for value in data.values():
            _persons(value, pseudo, found)
    elif isinstance(data, list):
        for value in data:
            _persons(value, pseudo, found)


def _is_money(data: dict[str, Any]) -> bool:
    return set(data) == {"value", "currency"}


def _walk(
    data: Any, path: str, edit: Callable[[str, str], str], actions: list[Minimisation]
) -> Any:
    if isinstance(data, dict):
        natural = data.get("kind") == _NATURAL
        out: dict[str, Any] = {}
        for key, value in data.items():
            where = f"{path}.{key}" if path else key
            if natural and key in _REMOVED_FROM_PERSONS:
                actions.append(Minimisation(where, "removed"))
                continue
            if key in _KEPT or _is_money(data):
                out[key] = value
                continue
            if key == "phone" and isinstance(value, str) and MOBILE_PATTERN.search(value):
                actions.append(Minimisation(where, "removed"))
                continue
            out[key] = _walk(value, where, edit, actions)
        return out
    if isinstance(data, list):
        return [_walk(value, f"{path}[{i}]", edit, actions) for i, value in enumerate(data)]
    if isinstance(data, str):
        scrubbed = edit(path, data)
        if scrubbed != data:
            actions.append(Minimisation(path, "pseudonymised"))
        return scrubbed
    return data


def minimise_data(data: dict[str, Any], key: bytes) -> tuple[dict[str, Any], list[Minimisation]]:
    """A copy of the payload ``data`` fit to leave the country, and what was changed."""
    pseudo = Pseudonymiser(key)
    names: dict[str, str] = {}
    _persons(data, pseudo, names)
    actions: list[Minimisation] = []

    def edit(_path: str, text: str) -> str:
        return scrub_text(text, pseudo, names)

    return _walk(data, "", edit, actions), actions


def minimise_envelope(envelope: Envelope, key: bytes) -> tuple[Envelope, list[Minimisation]]:
    """``envelope`` (unsigned) with its data minimised and the minimisation declared.

    The result still validates as its payload type (raises ``ValidationError`` otherwise),
    so a minimised event is never dead-lettered at the overseas end.
    """
    data, actions = minimise_data(envelope.data, key)
    event_type = envelope.type.removeprefix("ipbus.").rsplit(".", 1)[0]
    payload_model(event_type).model_validate(data)
    classification = envelope.dataclassification
    if actions or classification in (None, DataClassification.RESTRICTED):
        classification = DataClassification.CONFIDENTIAL if actions else DataClassification.INTERNAL
    wire = envelope.model_dump(exclude_none=True) | {
        "data": data,
        "dataclassification": classification,
        MINIMISED_EXTENSION: len(actions),
    }
    return Envelope.model_validate(wire), actions
