"""Pathological bodies: raw, and spliced into an otherwise valid (signed) envelope.

Shared by the unit fuzz tests (``decode_event`` alone) and the integration suite (a
running bus). Each entry names the reason the boundary refuses it with; none gets as
far as a signature check.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contracts.envelope import RejectReason

__all__ = ["RAW", "SPLICES", "Hostile", "spliced"]

DEEP = 10**5
DEEP_OBJECTS = 40_000
"""Six bytes a level: as deep as fits under the default size limit (256 KiB)."""


@dataclass(frozen=True, slots=True)
class Hostile:
    name: str
    body: bytes
    reason: RejectReason


def _nested(open_: bytes, close: bytes, depth: int, core: bytes = b"1") -> bytes:
    return open_ * depth + core + close * depth


RAW: list[Hostile] = [
    Hostile("empty", b"", RejectReason.NOT_JSON),
    Hostile("whitespace", b" \n\t ", RejectReason.NOT_JSON),
    Hostile("NUL byte", b"\x00", RejectReason.NOT_JSON),
    Hostile("deep arrays 1e5", _nested(b"[", b"]", DEEP), RejectReason.NOT_JSON),
    Hostile("deep objects 4e4", _nested(b'{"a":', b"}", DEEP_OBJECTS), RejectReason.NOT_JSON),
    Hostile("unclosed deep arrays", b"[" * DEEP, RejectReason.NOT_JSON),
    Hostile(
        "deep arrays 150",
        _nested(b'{"a":' + b"[" * 150, b"]" * 150 + b"}", 1),
        RejectReason.NOT_CANONICAL,
    ),
    Hostile("huge integer", b'{"a": 123456789012345678901234567890}', RejectReason.NOT_CANONICAL),
    Hostile("integer 2^53+1", b'{"a": 9007199254740993}', RejectReason.NOT_CANONICAL),
    Hostile("100k-digit integer", b'{"a": ' + b"9" * DEEP + b"}", RejectReason.NOT_JSON),
    Hostile("1e400", b'{"a": 1e400}', RejectReason.NOT_CANONICAL),
    Hostile("-1e400", b'{"a": -1e400}', RejectReason.NOT_CANONICAL),
    Hostile("NaN literal", b'{"a": NaN}', RejectReason.NOT_JSON),
    Hostile("Infinity literal", b'{"a": Infinity}', RejectReason.NOT_JSON),
    Hostile("-Infinity literal", b'{"a": -Infinity}', RejectReason.NOT_JSON),
    Hostile("lone high surrogate", b'{"a": "\\ud800"}', RejectReason.NOT_JSON),
    Hostile("lone low surrogate", b'{"a": "\\udc00"}', RejectReason.NOT_JSON),
    Hostile("reversed surrogate pair", b'{"a": "\\udc00\\ud800"}', RejectReason.NOT_JSON),
    Hostile("surrogate key", b'{"\\ud800": 1}', RejectReason.NOT_JSON),
    Hostile("invalid UTF-8", b'{"a": "\xff\xfe"}', RejectReason.NOT_JSON),
    Hostile("overlong UTF-8", b'{"a": "\xc0\xaf"}', RejectReason.NOT_JSON),
    Hostile("UTF-8 encoded surrogate", b'{"a": "\xed\xa0\x80"}', RejectReason.NOT_JSON),
    Hostile("truncated UTF-8", b'{"a": "\xe4\xb8"}', RejectReason.NOT_JSON),
    Hostile("UTF-8 BOM", b'\xef\xbb\xbf{"a": 1}', RejectReason.NOT_JSON),
    Hostile("UTF-16", '{"a": 1}'.encode("utf-16"), RejectReason.NOT_JSON),
    Hostile("trailing garbage", b'{"a": 1} {"b": 2}', RejectReason.NOT_JSON),
    Hostile("single quotes", b"{'a': 1}", RejectReason.NOT_JSON),
    Hostile("trailing comma", b'{"a": 1,}', RejectReason.NOT_JSON),
    Hostile("comment", b'{"a": 1 /* x */}', RejectReason.NOT_JSON),
    Hostile("control character in string", b'{"a": "x\x01y"}', RejectReason.NOT_JSON),
    Hostile("escaped NUL", b'{"a": "\\u0000"}', RejectReason.NOT_CANONICAL),
    Hostile("escaped NUL in key", b'{"\\u0000": 1}', RejectReason.NOT_CANONICAL),
    Hostile("duplicate keys", b'{"a": 1, "a": 2}', RejectReason.NOT_CLOUDEVENT),
    Hostile("array root", b"[1, 2]", RejectReason.NOT_CLOUDEVENT),
    Hostile("string root", b'"ipbus"', RejectReason.NOT_CLOUDEVENT),
    Hostile("number root", b"42", RejectReason.NOT_CLOUDEVENT),
    Hostile("null root", b"null", RejectReason.NOT_CLOUDEVENT),
    Hostile("true root", b"true", RejectReason.NOT_CLOUDEVENT),
    Hostile("empty object", b"{}", RejectReason.NOT_CLOUDEVENT),
    Hostile("big string", b'{"a": "' + b"x" * 200_000 + b'"}', RejectReason.NOT_CLOUDEVENT),
    Hostile(
        "many keys",
        json.dumps({f"k{i}": i for i in range(10_000)}).encode(),
        RejectReason.NOT_CLOUDEVENT,
    ),
    Hostile("wide array", b"[" + b"0," * 50_000 + b"0]", RejectReason.NOT_CLOUDEVENT),
]
"""Bodies on their own, whatever subject they arrive on."""

# Raw JSON text put where a value goes (so it can be what no Python value serialises to).
SPLICES: list[tuple[str, bytes, RejectReason]] = [
    ("deep arrays 1e5", _nested(b"[", b"]", DEEP), RejectReason.NOT_JSON),
    ("deep arrays 40", _nested(b"[", b"]", 40), RejectReason.NOT_CANONICAL),
    ("deep objects 4e4", _nested(b'{"a":', b"}", DEEP_OBJECTS), RejectReason.NOT_JSON),
    ("huge integer", b"123456789012345678901234567890", RejectReason.NOT_CANONICAL),
    ("integer 2^53", b"9007199254740992", RejectReason.NOT_CANONICAL),
    ("negative 2^53", b"-9007199254740992", RejectReason.NOT_CANONICAL),
    ("1e400", b"1e400", RejectReason.NOT_CANONICAL),
    ("-1e400", b"-1e400", RejectReason.NOT_CANONICAL),
    ("NaN", b"NaN", RejectReason.NOT_JSON),
    ("Infinity", b"Infinity", RejectReason.NOT_JSON),
    ("lone surrogate", b'"\\ud800"', RejectReason.NOT_JSON),
    ("lone surrogate after text", b'"abc\\udfff"', RejectReason.NOT_JSON),
    ("invalid UTF-8", b'"\xff"', RejectReason.NOT_JSON),
    ("escaped NUL", b'"a\\u0000b"', RejectReason.NOT_CANONICAL),
    ("NUL-only string", b'"\\u0000"', RejectReason.NOT_CANONICAL),
]
"""Raw values spliced into an envelope: wherever they go, the parser or the canonical form
refuses them before anything looks at the field."""

_PLACEHOLDER = "\x01hostile\x01"
_WHERE = ("extension", "data field", "id", "subject", "time", "nested data")


def spliced(envelope: dict[str, Any]) -> Iterator[Hostile]:
    """Every :data:`SPLICES` value at every place of ``envelope`` (a signed wire dict)."""
    for where in _WHERE:
        for name, value, reason in SPLICES:
            body = dict(envelope)
            if where == "extension":
                body["hostileext"] = _PLACEHOLDER
            elif where == "data field":
                body["data"] = {**body["data"], "title": _PLACEHOLDER}
            elif where == "nested data":
                body["data"] = {**body["data"], "extra": {"deeper": [_PLACEHOLDER]}}
            else:
                body[where] = _PLACEHOLDER
            text = json.dumps(body, ensure_ascii=True).encode()
            marker = json.dumps(_PLACEHOLDER).encode()
            yield Hostile(f"{name} as {where}", text.replace(marker, value), reason)
