"""structlog set-up with one fixed key set, so every line can be joined to a case.

Keys: ``service``, ``agency``, ``subject``, ``event_type``, ``event_id``, ``case_id``,
``correlation_id``, ``trace_id`` (the event's, or the active span's) and ``span_id`` inside a
span. JSON by default; readable console output on a TTY.
"""

import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import FilteringBoundLogger

from contracts.envelope import TRACEPARENT_PATTERN, Event
from services.runtime.identity.secret_files import open_private
from services.runtime.ops.tracing import add_trace_ids
from services.runtime.privacy.redaction import redact_personal_data

__all__ = [
    "STDLIB_LOGGERS",
    "Logger",
    "configure_logging",
    "event_fields",
    "get_logger",
    "trace_id",
]

Logger = FilteringBoundLogger
"""What :func:`get_logger` returns: structlog's filtering bound logger (``bind``, ``info``,
``warning``, ``error``, ``exception``, ...), the type of every logger the services hold."""

STDLIB_LOGGERS = (
    "nats",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "asyncio",
    "faststream",
)
"""Libraries that log through the standard library; all reach the root handler."""


def configure_logging(
    *,
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    file: Path | None = None,
) -> None:
    """Configure structlog, and route the stdlib loggers through the same chain.

    nats, SQLAlchemy, uvicorn, asyncio and FastStream log through the standard library;
    the root handler formats their records with structlog's processors, so their lines are
    JSON like ours and pass the same redaction (:func:`redact_personal_data`).
    """
    stream: TextIO
    if file is not None:
        stream = os.fdopen(open_private(file), "a", encoding="utf-8")  # 0600 under 0700
    else:
        stream = sys.stdout
    console = fmt == "console" or (fmt == "auto" and file is None and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    stamped: list[Any] = [
        add_trace_ids,  # the active span's trace_id/span_id: a line joins its trace
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    redacted: list[Any] = [
        structlog.processors.format_exc_info,
        redact_personal_data,  # no personal data or secret in any log line (SECURITY.md)
        renderer,
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *stamped, *redacted],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_logger_name,
                *stamped,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *redacted],
        )
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    for name in STDLIB_LOGGERS:  # e.g. uvicorn's own handlers would bypass the chain
        stdlib_logger = logging.getLogger(name)
        stdlib_logger.handlers.clear()
        stdlib_logger.propagate = True


def get_logger(service: str, agency: str) -> Logger:
    """A logger bound to the service and agency every line must name."""
    logger: Logger = structlog.get_logger()
    return logger.bind(service=service, agency=agency)


def event_fields(event: Event) -> dict[str, Any]:
    """The per-event keys, identical on every line about that event."""
    return {
        "subject": str(event.route),
        "event_type": event.event_type,
        "event_id": event.id,
        "case_id": event.case_id,
        "correlation_id": event.correlation_id,
        "trace_id": trace_id(event.envelope.traceparent),
    }


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a well-formed ``traceparent`` (even on a line written outside any
    span, such as a dead letter's), else None."""
    if traceparent is None or not TRACEPARENT_PATTERN.match(traceparent):
        return None
    return traceparent.split("-")[1]
