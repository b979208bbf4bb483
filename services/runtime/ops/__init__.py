"""What an operator sees: metrics, structured logs, traces, and the background loops readiness
watches.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.ops.logging import (
        STDLIB_LOGGERS,
        Logger,
        configure_logging,
        event_fields,
        get_logger,
    )
    from services.runtime.ops.metrics import AgencyMetrics, IpbusMetrics, Outcome, metric_names
    from services.runtime.ops.periodic import PeriodicTask
    from services.runtime.ops.tasks import StopFailed, cancel_and_wait
    from services.runtime.ops.tracing import (
        OTLP_ENDPOINT_ENV,
        add_trace_ids,
        apply_span,
        batch_span,
        command_span,
        configure_tracing,
        emit_span,
        publish_started,
        record_publish,
        trace_of,
    )

__all__ = [
    "OTLP_ENDPOINT_ENV",
    "STDLIB_LOGGERS",
    "AgencyMetrics",
    "IpbusMetrics",
    "Logger",
    "Outcome",
    "PeriodicTask",
    "StopFailed",
    "add_trace_ids",
    "apply_span",
    "batch_span",
    "cancel_and_wait",
    "command_span",
    "configure_logging",
    "configure_tracing",
    "emit_span",
    "event_fields",
    "get_logger",
    "metric_names",
    "publish_started",
    "record_publish",
    "trace_of",
]
_EXPORTS = {
    "AgencyMetrics": "services.runtime.ops.metrics",
    "IpbusMetrics": "services.runtime.ops.metrics",
    "Logger": "services.runtime.ops.logging",
    "OTLP_ENDPOINT_ENV": "services.runtime.ops.tracing",
    "Outcome": "services.runtime.ops.metrics",
    "PeriodicTask": "services.runtime.ops.periodic",
    "STDLIB_LOGGERS": "services.runtime.ops.logging",
    "add_trace_ids": "services.runtime.ops.tracing",
    "apply_span": "services.runtime.ops.tracing",
    "batch_span": "services.runtime.ops.tracing",
    "cancel_and_wait": "services.runtime.ops.tasks",
    "StopFailed": "services.runtime.ops.tasks",
    "command_span": "services.runtime.ops.tracing",
    "configure_logging": "services.runtime.ops.logging",
    "configure_tracing": "services.runtime.ops.tracing",
    "emit_span": "services.runtime.ops.tracing",
    "event_fields": "services.runtime.ops.logging",
    "get_logger": "services.runtime.ops.logging",
    "metric_names": "services.runtime.ops.metrics",
    "publish_started": "services.runtime.ops.tracing",
    "record_publish": "services.runtime.ops.tracing",
    "trace_of": "services.runtime.ops.tracing",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
