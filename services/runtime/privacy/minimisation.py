"""Data minimisation for what leaves the country (DESIGN §6), pure.

Everything addressed to an agency of kind ``overseas`` — events, warnings, and the
coordinator's replies to its queries — passes through :func:`minimise_data` (via
:func:`minimise_envelope` or :func:`minimise_reply`) before it is signed or sent:

* a natural person (a party of kind ``natural_person``) keeps only a stable keyed pseudonym
  for a name; resident id, phone, e-mail and address are removed;
* the holder of an IP right (``holder``, ``rights_holder``) is pseudonymised unless it is
  known to be an organisation: the name of a legal-person party of the same payload, or a
  name that says so ("… Co., Ltd.", "…有限公司"); the contracts do not mark holders' kind, so
  the policy errs towards the person;
* anywhere in the payload's text, the names found above and every kind of personal data
  :mod:`services.runtime.privacy.personal_data` finds (ID numbers, phones, e-mail, passports,
  addresses, introduced names) are replaced by keyed pseudonyms;
* companies' names, unified social credit codes (in ``credit_code``), identifiers (ULIDs,
  hashes), HS codes and amounts stay.

Pseudonyms are HMAC-SHA256 under a secret the sender keeps, written in letters only (so a
pseudonym can never itself look like a number), stable so that the centre can correlate
without learning identity. Each change is reported as a :class:`Minimisation` (where, what
and which kinds, never the value) for the sender to record and count.
"""

import hashlib
import hmac
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts.envelope import DataClassification, Envelope
from contracts.events import payload_model
from contracts.identifiers import is_ulid
from services.runtime.privacy.personal_data import (
    FINDERS,
    LEGAL_ENTITY,
    introduced_names,
    replace_personal_data,
)

__all__ = [
    "MINIMISED_EXTENSION",
    "Minimisation",
    "Pseudonymiser",
    "minimise_data",
    "minimise_envelope",
    "minimise_reply",
    "minimised_kinds",
    "scrub_text",
]

MINIMISED_EXTENSION = "minimisedfields"
"""Envelope extension: how many fields the sender's minimisation policy changed."""

_NATURAL = "natural_person"
_LEGAL = "legal_person"
_REMOVED_FROM_PERSONS = ("resident_id", "phone", "mobile", "email", "address", "passport")
_HOLDER_KEYS = ("holder", "rights_holder")
_KEPT = ("credit_code", "currency")
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
R = TypeVar("R", bound=BaseModel)
_PHONE_FIELD = next(f.pattern for f in FINDERS if f.kind == "phone")


@dataclass(frozen=True, slots=True)
class Minimisation:
    """One change: ``path`` (``parties[0].name``), ``action`` (removed/pseudonymised) and
    the ``kinds`` of personal data found there (person, id, phone, email, ...)."""

    path: str
    action: str
    kinds: tuple[str, ...] = ()


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


def scrub_text(
    text: str,
    pseudo: Pseudonymiser,
    names: dict[str, str] | None = None,
    found: list[str] | None = None,
) -> str:
    """``text`` with the given names and all personal data found replaced by pseudonyms.

    The kinds replaced are appended to ``found``.
    """
    kinds = found if found is not None else []

    def pseudonym(kind: str, value: str) -> str:
        kinds.append(kind)
        digits = re.sub(r"[^0-9Xx]", "", value).upper() if kind in ("id", "phone") else value
        return f"[{pseudo.token(kind, digits)}]"

    text = replace_personal_data(text, pseudonym)  # first: a name must not hide a keyword
    for name, token in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
        if name in text:
            text, count = _standing_alone(name).subn(token.replace("\\", "\\\\"), text)
            if count:
                kinds.append("person")
    return text


def _standing_alone(name: str) -> re.Pattern[str]:
    """``name`` where it stands as a name: a Latin-letter or digit edge of it must not run
    on into another letter or digit ("Z" is no name inside "…00:00Z", "Li" none inside
    "Lily"); a Chinese name needs no spaces around it."""
    before = r"(?<![A-Za-z0-9])" if name[:1].isascii() and name[:1].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if name[-1:].isascii() and name[-1:].isalnum() else ""
    return re.compile(before + re.escape(name) + after)


def _is_organisation(name: str, legal_names: set[str]) -> bool:
    return name in legal_names or LEGAL_ENTITY.search(name) is not None


def _persons(data: Any, pseudo: Pseudonymiser, legal: set[str], found: dict[str, str]) -> None:
    """Collect natural persons' names: parties, holders not known as organisations, and
    names introduced anywhere in the text, so each is also replaced where it stands alone."""
    if isinstance(data, str):
        for name in introduced_names(data):
            found[name] = pseudo.token("person", name)
    elif isinstance(data, dict):
        if data.get("kind") == _NATURAL and isinstance(data.get("name"), str):
            found[data["name"]] = pseudo.token("person", data["name"])
        for key in _HOLDER_KEYS:
            holder = data.get(key)
            if isinstance(holder, str) and holder.strip() and not _is_organisation(holder, legal):
                found[holder] = pseudo.token("person", holder)
        for value in data.values():
            _persons(value, pseudo, legal, found)
    elif isinstance(data, list):
        for value in data:
            _persons(value, pseudo, legal, found)


def _legal_names(data: Any, found: set[str]) -> set[str]:
    if isinstance(data, dict):
        if data.get("kind") == _LEGAL and isinstance(data.get("name"), str):
            found.add(data["name"])
        for value in data.values():
            _legal_names(value, found)
    elif isinstance(data, list):
        for value in data:
            _legal_names(value, found)
    return found


def _is_money(data: dict[str, Any]) -> bool:
    return set(data) == {"value", "currency"}


def _is_identifier(text: str) -> bool:
    """Shapes that are never personal data and must survive intact to stay valid."""
    if text.isdigit():  # a "ULID" or "digest" of digits alone may well be an ID number
        return False
    return is_ulid(text) or _HEX_DIGEST.match(text) is not None


def _walk(
    data: Any, path: str, edit: Callable[[str, list[str]], str], actions: list[Minimisation]
) -> Any:
    if isinstance(data, dict):
        natural = data.get("kind") == _NATURAL
        out: dict[str, Any] = {}
        for key, value in data.items():
            where = f"{path}.{key}" if path else key
            if natural and key in _REMOVED_FROM_PERSONS:
                actions.append(Minimisation(where, "removed", (key,)))
                continue
            if key in _KEPT or key.startswith("hs_") or _is_money(data):
                out[key] = value
                continue
            if key == "phone" and isinstance(value, str) and _PHONE_FIELD.search(value):
                actions.append(Minimisation(where, "removed", ("phone",)))
                continue  # a phone field must hold a phone number: drop it, do not mangle it
            out[key] = _walk(value, where, edit, actions)
        return out
    if isinstance(data, list):
        return [_walk(value, f"{path}[{i}]", edit, actions) for i, value in enumerate(data)]
    if isinstance(data, str) and not _is_identifier(data):
        kinds: list[str] = []
        scrubbed = edit(data, kinds)
        if scrubbed != data:
            actions.append(Minimisation(path, "pseudonymised", tuple(sorted(set(kinds)))))
        return scrubbed
    return data


def minimise_data(data: dict[str, Any], key: bytes) -> tuple[dict[str, Any], list[Minimisation]]:
    """A copy of the payload ``data`` fit to leave the country, and what was changed."""
    pseudo = Pseudonymiser(key)
    names: dict[str, str] = {}
    _persons(data, pseudo, _legal_names(data, set()), names)
    actions: list[Minimisation] = []

    def edit(text: str, kinds: list[str]) -> str:
        return scrub_text(text, pseudo, names, kinds)

    return _walk(data, "", edit, actions), actions


def minimise_envelope(envelope: Envelope, key: bytes) -> tuple[Envelope, list[Minimisation]]:
    """``envelope`` (unsigned) with its data minimised and the minimisation declared.

    The result still validates as its payload type (raises ``ValidationError`` otherwise:
    the event is then not sent at all), so a minimised event is never dead-lettered at the
    overseas end.
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


def minimise_reply(reply: R, key: bytes) -> tuple[R, list[Minimisation]]:
    """A query reply (``CaseReply``, ``WarningsReply``, ...) fit for an overseas requester."""
    data, actions = minimise_data(reply.model_dump(mode="json", exclude_none=True), key)
    return type(reply).model_validate(data), actions


def minimised_kinds(actions: list[Minimisation]) -> list[str]:
    """One kind per piece of personal data left out, for the ``ipbus_minimised_total`` metric."""
    return [kind for action in actions for kind in (action.kinds or (action.action,))]
