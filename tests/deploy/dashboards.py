"""Reading the operator files: every PromQL expression a dashboard or rule holds."""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

__all__ = [
    "DASHBOARDS",
    "NATS_EXPORTER_METRICS",
    "RULES",
    "AlertRule",
    "Panel",
    "alert_rules",
    "dashboard_panels",
    "metric_names_in",
]

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
RULES = REPO / "deploy" / "prometheus" / "rules"

_NAME = re.compile(r"\b((?:ipbus|faststream|gnatsd|jetstream)_[a-z0-9_]+)\b")

NATS_EXPORTER_METRICS = frozenset(
    {
        # prometheus-nats-exporter -varz: gnatsd_varz_<numeric field of /varz>
        f"gnatsd_varz_{field}"
        for field in (
            "connections",
            "total_connections",
            "subscriptions",
            "slow_consumers",
            "routes",
            "in_msgs",
            "out_msgs",
            "in_bytes",
            "out_bytes",
            "mem",
            "cpu",
        )
    }
    | {
        # -jsz=streams: per server, and per stream (labels stream_name, ...)
        "jetstream_server_total_streams",
        "jetstream_server_total_consumers",
        "jetstream_server_total_messages",
        "jetstream_server_total_message_bytes",
        "jetstream_server_max_storage",
        "jetstream_server_max_memory",
        "jetstream_stream_total_messages",
        "jetstream_stream_total_bytes",
    }
)
"""The NATS server's metrics, as the compose stack's prometheus-nats-exporter serves them
(deploy/compose.yaml); no ipbus code defines them, so they are listed here by name."""


@dataclass(frozen=True, slots=True)
class Panel:
    dashboard: str
    title: str
    expr: str


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    expr: str


def dashboard_panels() -> list[Panel]:
    panels = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel["targets"]:
                panels.append(Panel(board["uid"], panel["title"], target["expr"]))
    return panels


def alert_rules(paths: list[Path] | None = None) -> list[AlertRule]:
    rules = []
    for path in paths or sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                rules.append(AlertRule(rule.get("alert") or rule["record"], str(rule["expr"])))
    return rules


def metric_names_in(expr: str) -> set[str]:
    """Metric names an expression reads (label values are quoted, so never match)."""
    unquoted = re.sub(r'"[^"]*"', '""', expr)
    return set(_NAME.findall(unquoted))
