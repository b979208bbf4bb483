"""RFC 8785 (JCS) canonical JSON: the bytes signatures, digests and the audit chain cover.

``rfc8785`` is the reference, in pure Python (about 0.2 ms for an event). For JSON without
floating-point numbers and with keys inside the Basic Multilingual Plane, which is every
ipbus event (money is integer minor units), the standard library's C encoder with sorted
keys writes exactly the same bytes about ten times faster: JCS and ``json.dumps`` escape
strings the same way (``\\"``, ``\\\\``, ``\\b\\f\\n\\r\\t``, other controls as ``\\u00xx``,
everything else as UTF-8), and integers are plain digits. Anything else — a float, a key
beyond U+FFFF (JCS sorts keys by UTF-16 code units), an integer JavaScript cannot hold —
goes to ``rfc8785``, which also rejects what JCS cannot represent.
"""

import json
from typing import Any

import rfc8785

__all__ = ["canonical_json"]

_SAFE_INTEGER = 2**53 - 1
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def canonical_json(value: Any) -> bytes:
    """The JCS bytes of ``value`` (dicts, lists, str, int, bool, None; floats via rfc8785)."""
    if _plain(value):
        return _encode(value).encode()
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    """Whether ``json.dumps`` is byte-for-byte JCS for this value."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, dict):
        return all(isinstance(key, str) and (key.isascii() or _bmp(key)) for key in value) and all(
            _plain(item) for item in value.values()
        )
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return False  # float, or a type rfc8785 will name in its error


def _bmp(key: str) -> bool:
    return all(ord(char) <= 0xFFFF for char in key)
