"""structlog set-up with one fixed key set, so every line can be joined to a case.

Keys: ``service``, ``agency``, ``subject``, ``event_type``, ``event_id``, ``case_id``,
``correlation_id``. JSON by default; readable console output on a TTY.
"""

import logging
import sys
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

from contracts.envelope import Event
from services.runtime.redaction import redact_personal_data

__all__ = ["configure_logging", "event_fields", "get_logger"]


def configure_logging(
    *,
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    file: Path | None = None,
) -> None:
    """Configure structlog (and the stdlib loggers it wraps) once per process."""
    stream: TextIO
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", encoding="utf-8")
    else:
        stream = sys.stdout
    console = fmt == "console" or (fmt == "auto" and file is None and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_personal_data,  # no personal data in any log line (SECURITY.md)
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=stream, force=True)


def get_logger(service: str, agency: str) -> Any:
    """A logger bound to the service and agency every line must name."""
    return structlog.get_logger().bind(service=service, agency=agency)


def event_fields(event: Event) -> dict[str, Any]:
    """The per-event keys, identical on every line about that event."""
    return {
        "subject": str(event.route),
        "event_type": event.event_type,
        "event_id": event.id,
        "case_id": event.case_id,
        "correlation_id": event.correlation_id,
    }
