"""Logs and letters keep secrets too (issue 14 part 5): standard-library loggers pass the
structlog chain and its redaction; dead-letter and audit details are redacted; log files are
created 0600 under 0700 directories."""

import json
import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from contracts.envelope import RejectReason
from services.coordinator.audit.store import rejected_entry
from services.runtime.bus import DLQ_DETAIL_HEADER, dead_letter
from services.runtime.ops import STDLIB_LOGGERS, configure_logging
from services.runtime.privacy import REDACTED

RESIDENT_ID = "11010519491231002X"
OLD_ID = "110105491231002"
PHONE = "138-1234-5678"
LANDLINE = "(021) 6123-4567"
SEED = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"
SECRETS = (RESIDENT_ID, OLD_ID, PHONE, "13812345678", "61234567", SEED)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    "name", ["nats.aio.client", "sqlalchemy.engine", "uvicorn.error", "asyncio", "faststream"]
)
def test_a_stdlib_logger_line_comes_out_as_redacted_json(tmp_path: Path, name: str) -> None:
    log_file = tmp_path / "logs" / "ipbus.log"
    uvicorn_handler = logging.StreamHandler()
    logging.getLogger("uvicorn.error").addHandler(uvicorn_handler)  # as uvicorn's config does
    configure_logging(fmt="json", file=log_file)
    assert uvicorn_handler not in logging.getLogger("uvicorn.error").handlers
    logger = logging.getLogger(name)
    logger.error("party %s called from %s and %s; seed %s", RESIDENT_ID, PHONE, LANDLINE, SEED)
    try:
        raise ValueError(f"bad party {OLD_ID}")
    except ValueError:
        logger.exception("failed for %s", PHONE)
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["logger"] == name
    assert first["level"] == "error"
    assert (
        first["event"] == f"party {REDACTED} called from {REDACTED} and {REDACTED}; seed {REDACTED}"
    )
    assert "ValueError" in second["exception"]
    text = log_file.read_text()
    for secret in SECRETS:
        assert secret not in text, secret


@pytest.mark.usefixtures("restore_logging")
def test_every_library_logger_propagates_to_the_redacting_root(tmp_path: Path) -> None:
    configure_logging(fmt="json", file=tmp_path / "x.log")
    for name in STDLIB_LOGGERS:
        assert logging.getLogger(name).propagate, name
        assert logging.getLogger(name).handlers == [], name


@pytest.mark.usefixtures("restore_logging")
def test_a_log_file_is_0600_under_0700_directories_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        log_file = tmp_path / "var" / "logs" / "demo.log"
        configure_logging(fmt="json", file=log_file)
    finally:
        os.umask(previous)
    assert _mode(log_file) == 0o600
    assert _mode(log_file.parent) == 0o700
    assert _mode(log_file.parent.parent) == 0o700


@pytest.mark.usefixtures("restore_logging")
def test_an_existing_world_readable_log_file_is_tightened(tmp_path: Path) -> None:
    log_file = tmp_path / "old.log"
    log_file.write_text("")
    log_file.chmod(0o644)
    configure_logging(fmt="json", file=log_file)
    assert _mode(log_file) == 0o600


class _JetStream:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, subject: str, data: bytes, **kwargs: Any) -> None:
        self.published.append({"subject": subject, "data": data, **kwargs})


async def test_a_dead_letters_detail_is_redacted_and_its_body_kept_for_replay() -> None:
    js = _JetStream()
    body = json.dumps({"note": RESIDENT_ID}).encode()
    msg = SimpleNamespace(reply="", headers={}, subject="ipbus.v1.amr.coordinator.x", data=body)
    detail = repr(ValueError(f"resident {RESIDENT_ID}, phone {PHONE}, seed {SEED}"))
    await dead_letter(
        js,  # type: ignore[arg-type]
        msg,  # type: ignore[arg-type]
        consumer="coordinator",
        reason=RejectReason.INVALID_PAYLOAD,
        detail=detail,
        now=NOW,
    )
    (letter,) = js.published
    header = letter["headers"][DLQ_DETAIL_HEADER]
    assert header.startswith("ValueError('resident [redacted], phone [redacted], seed [redacted]")
    assert letter["data"] == body


def test_an_audit_rows_detail_is_redacted() -> None:
    entry = rejected_entry(
        subject="ipbus.v1.amr.coordinator.x",
        body=b"{}",
        ref="coordinator:1",
        reason="invalid_payload",
        detail=repr(ValueError(f"party {OLD_ID} at {LANDLINE}")),
        now=NOW,
    )
    assert entry.detail == f"ValueError('party {REDACTED} at {REDACTED}')"
