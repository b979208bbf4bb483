"""One log pipeline (issue 17 part 3): FastStream logs through structlog, so a query
handler that raises leaves a redacted JSON line instead of nothing but a caller's timeout."""

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import structlog
from nats.errors import TimeoutError as NatsTimeoutError

from contracts.subjects import COORDINATOR, QUERY_PREFIX
from contracts.warning_queries import WARNINGS_QUERY, WarningsReply
from services.coordinator.warnings.hub import WarningHub
from services.runtime.identity import Settings
from services.runtime.ops import configure_logging
from services.runtime.privacy import REDACTED
from tests.integration.conftest import StartBus

pytestmark = pytest.mark.integration

PHONE = "138-1234-5678"


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


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("database_url", [None])
async def test_a_query_handler_that_raises_is_logged_redacted_as_json(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_bus: StartBus
) -> None:
    log_file = tmp_path / "logs" / "ipbus.log"
    configure_logging(fmt="json", file=log_file)

    async def broken(self: WarningHub, requester: str, body: bytes) -> WarningsReply:
        raise ValueError(f"lookup failed for caller {PHONE}")

    monkeypatch.setattr(WarningHub, "answer", broken)
    bus = await start_bus(settings, [COORDINATOR])
    nc = await nats.connect(bus.nats_url)
    try:
        subject = f"{QUERY_PREFIX}.customs-shanghai.{WARNINGS_QUERY}"
        # no answer: the point is that the failure is logged, not the reply
        with contextlib.suppress(NatsTimeoutError):
            await nc.request(subject, b"{}", timeout=2)
    finally:
        await nc.close()
    await bus.stop()  # its last lines written before the file is read
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    failures = [
        line for line in lines if line["level"] == "error" and "ValueError" in line["event"]
    ]
    assert failures, text[-3000:]
    (failure,) = failures
    assert failure["agency"] == COORDINATOR
    assert failure["event"] == f"ValueError: lookup failed for caller {REDACTED}"
    assert "Traceback" in failure["exception"]
    assert PHONE not in text
