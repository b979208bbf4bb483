"""The compose stack ships tracing: every service exports its spans to an OpenTelemetry
collector, the collector to Jaeger, and Grafana has Jaeger as a data source."""

from typing import Any
from urllib.parse import urlsplit

import yaml

from services.runtime.ops import OTLP_ENDPOINT_ENV
from tests.deploy.test_manifests import DEPLOY, _agencies, _compose


def _yaml(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / relative).read_text("utf-8"))
    return document


def test_every_agency_sends_its_spans_to_the_collector() -> None:
    services = _compose()["services"]
    for agency in _agencies():
        endpoint = urlsplit(services[agency]["environment"][OTLP_ENDPOINT_ENV])
        assert endpoint.hostname == "otel-collector", agency
        assert endpoint.port == 4318  # OTLP/HTTP: the exporter the ipbus[otel] extra installs
    assert "image" in services["otel-collector"]
    assert ".[otel]" in (DEPLOY / "Dockerfile").read_text("utf-8")


def test_the_collector_receives_otlp_http_and_exports_to_jaeger() -> None:
    services = _compose()["services"]
    collector = _yaml("otel/collector.yaml")
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    [pipeline] = collector["service"]["pipelines"].values()
    assert pipeline["receivers"] == ["otlp"]
    for exporter in pipeline["exporters"]:
        host = collector["exporters"][exporter]["endpoint"].split(":")[0]
        assert host in services, exporter
    mounted = [v.split(":")[0] for v in services["otel-collector"]["volumes"]]
    assert mounted == ["./otel/collector.yaml"]


def test_grafana_reads_the_traces_from_jaeger() -> None:
    services = _compose()["services"]
    [source] = _yaml("grafana/provisioning/datasources/jaeger.yml")["datasources"]
    assert source["type"] == "jaeger"
    assert urlsplit(source["url"]).hostname == "jaeger"
    assert "jaeger" in services
    assert "jaeger" in services["grafana"]["depends_on"]
