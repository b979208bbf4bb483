"""Reading JetStream's max-deliveries advisory, and keeping refusal details printable."""

import json

import pytest

from services.runtime.bus import Exhausted, parse_advisory
from services.sdk.service import DETAIL_MAX, _printable

ADVISORY = {
    "type": "io.nats.jetstream.advisory.v1.max_deliver",
    "id": "1x9jtyj8c03jb5kr8f3vw9",
    "timestamp": "2026-11-30T18:05:21.828183213Z",
    "stream": "IPBUS",
    "consumer": "agency-customs-shanghai",
    "stream_seq": 42,
    "deliveries": 20,
}


def test_the_advisory_names_the_consumer_and_the_stored_message() -> None:
    assert parse_advisory(json.dumps(ADVISORY).encode()) == Exhausted(
        "IPBUS", "agency-customs-shanghai", 42, 20
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[" * 100_000,
        b"[]",
        json.dumps({**ADVISORY, "stream_seq": "42"}).encode(),
        json.dumps({k: v for k, v in ADVISORY.items() if k != "consumer"}).encode(),
    ],
)
def test_anything_else_is_not_an_advisory_and_raises_nothing(body: bytes) -> None:
    assert parse_advisory(body) is None


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("plain words, 中文 kept", "plain words, 中文 kept"),
        ("line\nbreak\r\x00nul", "line\\nbreak\\r\\x00nul"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ],
)
def test_a_refusal_detail_is_one_printable_line(detail: str, expected: str) -> None:
    safe = _printable(detail)
    assert safe == expected
    safe.encode("utf-8")  # a NATS header and a database column take it


def test_a_refusal_detail_is_bounded() -> None:
    assert len(_printable("x" * 10 * DETAIL_MAX)) == DETAIL_MAX
