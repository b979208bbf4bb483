"""Every metric a dashboard or alert rule reads is one the code defines."""

import pytest
from prometheus_client import CollectorRegistry

from services.runtime.ops import IpbusMetrics, metric_names
from services.sdk import broker_metrics
from tests.deploy.dashboards import (
    NATS_EXPORTER_METRICS,
    AlertRule,
    Panel,
    alert_rules,
    dashboard_panels,
    metric_names_in,
)


@pytest.fixture(scope="module")
def defined() -> set[str]:
    registry = CollectorRegistry()
    IpbusMetrics(registry)
    broker_metrics(registry, "coordinator")
    return metric_names(registry) | NATS_EXPORTER_METRICS


def test_the_operator_files_name_metrics_at_all() -> None:
    assert len(dashboard_panels()) >= 30
    assert len(alert_rules()) >= 6
    assert sum(bool(metric_names_in(p.expr)) for p in dashboard_panels()) >= 30


@pytest.mark.parametrize("panel", dashboard_panels(), ids=lambda p: f"{p.dashboard}:{p.title}")
def test_every_dashboard_metric_is_defined(panel: Panel, defined: set[str]) -> None:
    names = metric_names_in(panel.expr)
    assert names <= defined, f"undefined: {sorted(names - defined)}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r.name)
def test_every_alert_metric_is_defined(rule: AlertRule, defined: set[str]) -> None:
    names = metric_names_in(rule.expr)
    assert names <= defined, f"undefined: {sorted(names - defined)}"


def test_an_undefined_name_is_caught(defined: set[str]) -> None:
    assert not metric_names_in("sum(ipbus_no_such_thing_total)") <= defined
    assert metric_names_in('up{job="ipbus_jobname"}') == set()
    assert not metric_names_in("gnatsd_varz_no_such_field") <= defined


def test_the_overview_shows_the_nats_servers_own_metrics() -> None:
    overview = [p for p in dashboard_panels() if p.dashboard == "ipbus-overview"]
    used = set().union(*(metric_names_in(p.expr) for p in overview))
    assert {"gnatsd_varz_connections", "gnatsd_varz_in_msgs", "gnatsd_varz_slow_consumers"} <= used
    assert "jetstream_server_total_message_bytes" in used
