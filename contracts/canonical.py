"""RFC 8785 (JCS) canonical JSON: the bytes signatures, digests and the audit chain cover.

``rfc8785`` is the reference, in pure Python (about 0.2 ms for an event). For JSON without
floating-point numbers and with keys inside the Basic Multilingual Plane, which is every
ipbus event (money is integer minor units), the standard library's C encoder with sorted
keys writes exactly the same bytes about ten times faster: JCS and ``json.dumps`` escape
strings the same way (``\\"``, ``\\\\``, ``\\b\\f\\n\\r\\t``, other controls as ``\\u00xx``,
everything else as UTF-8), and integers are plain digits. Anything else — a float, a key
beyond U+FFFF (JCS sorts keys by UTF-16 code units) — goes to ``rfc8785``.

What has no canonical form is refused with :class:`NotCanonical`, never another error:
I-JSON (RFC 7493) numbers only — no integer beyond ±(2^53 − 1), no NaN or infinity —,
strings of Unicode scalar values (no lone surrogate), no U+0000 (no database keeps it in
text), and no nesting deeper than :data:`MAX_DEPTH`.
"""

import json
import math
from typing import Any

import rfc8785

__all__ = ["MAX_DEPTH", "NotCanonical", "canonical_json", "canonical_with_and_without"]

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted; an ipbus event needs about six."""
_SAFE_INTEGER = 2**53 - 1
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


class NotCanonical(ValueError):
    """A value that RFC 8785 / I-JSON cannot carry; the message says what and where."""


def canonical_json(value: Any) -> bytes:
    """The JCS bytes of ``value`` (dicts, lists, str, int, bool, None, finite floats)."""
    if _plain(value, 0):
        try:
            return _encode(value).encode()
        except UnicodeEncodeError as exc:  # a lone surrogate, in a key or a string
            raise NotCanonical("a string holds a lone surrogate") from exc
    try:
        return rfc8785.dumps(value)
    except (ValueError, TypeError, OverflowError) as exc:  # CanonicalizationError is one
        raise NotCanonical(f"no canonical form: {exc}") from exc


def canonical_with_and_without(value: dict[str, Any], key: str) -> tuple[bytes, bytes]:
    """The JCS bytes of the object ``value``, and of ``value`` without ``key``, from one
    pass: an event's whole signed form (the audit log's body) and its signed bytes (no
    ``signature``) without canonicalising it twice.

    A JCS object is ``{`` + its members (``"key":value``) in key order, joined by ``,``,
    + ``}``, so leaving a member out leaves the others' bytes as they were. The object is
    checked as :func:`canonical_json` checks it (the same refusals); when it is not plain
    JSON for the fast encoder (a float, a key beyond the BMP) both forms go to ``rfc8785``.
    """
    if _plain(value, 0):
        try:
            members = {
                k: _encode(k).encode() + b":" + _encode(v).encode() for k, v in value.items()
            }
        except UnicodeEncodeError as exc:  # a lone surrogate, in a key or a string
            raise NotCanonical("a string holds a lone surrogate") from exc
        order = sorted(members)  # code-point order is JCS's for keys within the BMP
        whole = b"{" + b",".join(members[k] for k in order) + b"}"
        return whole, b"{" + b",".join(members[k] for k in order if k != key) + b"}"
    return canonical_json(value), canonical_json({k: v for k, v in value.items() if k != key})


def _plain(value: Any, depth: int) -> bool:
    """Whether ``json.dumps`` is byte-for-byte JCS for this value; raise if JCS refuses it."""
    if isinstance(value, str):
        if "\x00" in value:
            raise NotCanonical("a string holds U+0000")
        return True
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        if not -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            raise NotCanonical(f"integer {_digits(value)} is beyond ±(2^53 - 1) (I-JSON)")
        return True
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotCanonical(f"number {value} is not finite (I-JSON)")
        return False
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            raise NotCanonical(f"nested deeper than {MAX_DEPTH} levels")
        plain = True
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise NotCanonical(f"object key {key!r} is not a string")
                if "\x00" in key:
                    raise NotCanonical("an object key holds U+0000")
                plain = _plain(item, depth + 1) and plain and (key.isascii() or _bmp(key))
        else:
            for item in value:
                plain = _plain(item, depth + 1) and plain
        return plain
    raise NotCanonical(f"{type(value).__name__} is not a JSON value")


def _digits(value: int) -> str:
    """The integer, shortened when long (its digits are of no use to the reader)."""
    text = str(value) if value.bit_length() < 4000 else "(a very long integer)"
    return text if len(text) <= 24 else f"{text[:10]}…({len(text)} digits)"


def _bmp(key: str) -> bool:
    return all(ord(char) <= 0xFFFF for char in key)
