"""The production stack's files, checked as far as a machine without Docker allows.

YAML well-formed; the compose file's structure against the agency registry; every
Kubernetes manifest against the bundled Kubernetes JSON schemas (offline); every file a
kustomization or a volume names exists; every ``IPBUS_*`` variable is a real setting.
"""

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes  # type: ignore[import-untyped]

from services.runtime.settings import Settings
from tests.conftest import REGISTRY, REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OPERATOR_PROVIDED = {"./keys"}
"""Agency private keys: mounted from the host, never in the repository."""
SERVICE_OF_KIND = {
    "coordinator": "coordinator",
    "customs": "customs",
    "enforcement": "enforcement",
    "judicial": "judicial",
    "overseas": "overseas",
    "mediation": "mediation",
}


def _agencies() -> dict[str, str]:
    registry = tomllib.loads(REGISTRY.read_text(encoding="utf-8"))
    return {a["id"]: a["kind"] for a in registry["agencies"]}


def _k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return compose


def _assert_ipbus_settings(env: dict[str, str]) -> None:
    unknown = {
        key
        for key in env
        if key.startswith("IPBUS_")
        and key.removeprefix("IPBUS_").lower() not in Settings.model_fields
    }
    assert not unknown, f"not settings: {unknown}"


@pytest.mark.parametrize(
    "path",
    sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]),
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_every_yaml_file_is_well_formed(path: Path) -> None:
    assert [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.mark.parametrize("named", _k8s_documents(), ids=lambda d: d[0])
def test_every_kubernetes_manifest_matches_the_schema(named: tuple[str, dict[str, Any]]) -> None:
    kubernetes.validate(named[1], kubernetes.latest_version(), strict=True)


def test_the_schema_check_catches_a_mistake() -> None:
    _, deployment = next(d for d in _k8s_documents() if d[1]["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes.ValidationError):
        kubernetes.validate(broken, kubernetes.latest_version(), strict=True)


def test_kubernetes_runs_every_agency_with_replicas_on_a_three_node_jetstream() -> None:
    docs = [d for _, d in _k8s_documents()]
    deployments = {
        d["metadata"]["name"]: d
        for d in docs
        if d["kind"] == "Deployment" and "agency" in d["metadata"].get("labels", {})
    }
    assert set(deployments) == set(_agencies())
    for agency, kind in _agencies().items():
        spec = deployments[agency]["spec"]
        assert spec["replicas"] >= 2
        container = spec["template"]["spec"]["containers"][0]
        assert container["args"] == ["ipbus", "run", SERVICE_OF_KIND[kind], "--agency", agency]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats")
    assert nats["spec"]["replicas"] == 3
    env = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ipbus-env")
    assert env["data"]["IPBUS_STREAM_REPLICAS"] == "3"
    _assert_ipbus_settings(env["data"])
    prometheus = next(d for d in docs if d["metadata"]["name"] == "prometheus-config")
    config = yaml.safe_load(prometheus["data"]["prometheus.yml"])
    assert [job["job_name"] for job in config["scrape_configs"]] == ["ipbus"]


def test_the_kustomization_names_only_files_that_exist() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text("utf-8"))
    named = list(kustomization["resources"])
    for generator in kustomization["configMapGenerator"]:
        named.extend(generator["files"])
    missing = [name for name in named if not (DEPLOY / name).is_file()]
    assert not missing
    assert {f"k8s/{p.name}" for p in K8S.glob("*.yaml")} <= set(kustomization["resources"])
    dashboards = {f"grafana/dashboards/{p.name}" for p in (DEPLOY / "grafana/dashboards").glob("*")}
    generated = next(
        g for g in kustomization["configMapGenerator"] if g["name"] == "grafana-dashboards"
    )
    assert set(generated["files"]) == dashboards


def test_compose_runs_every_agency_with_replicas_on_a_three_node_jetstream() -> None:
    services = _compose()["services"]
    agencies = _agencies()
    for agency, kind in agencies.items():
        service = services[agency]
        assert service["command"] == ["ipbus", "run", SERVICE_OF_KIND[kind], "--agency", agency]
        assert service["deploy"]["replicas"] >= 2
        assert service["environment"]["IPBUS_STREAM_REPLICAS"] == "3"
        _assert_ipbus_settings(service["environment"])
    nats = [name for name in services if name.startswith("nats-")]
    assert len(nats) == 3
    for name in nats:
        command = services[name]["command"]
        assert "--jetstream" in command
        routes = command[command.index("--routes") + 1].split(",")
        assert sorted(routes) == sorted(f"nats://{n}:6222" for n in nats if n != name)
    assert {"postgres", "prometheus", "grafana"} <= set(services)


def test_compose_references_resolve() -> None:
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        assert "image" in service, name
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in OPERATOR_PROVIDED:
                continue
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text("utf-8"))
    ipbus = next(job for job in scrape["scrape_configs"] if job["job_name"] == "ipbus")
    assert set(ipbus["dns_sd_configs"][0]["names"]) == set(_agencies())


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text("utf-8")
    )
    uid = provisioned["datasources"][0]["uid"]
    uids = []
    for path in sorted((DEPLOY / "grafana/dashboards").glob("*.json")):
        board = json.loads(path.read_text("utf-8"))
        uids.append(board["uid"])
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
    assert len(uids) == len(set(uids)) == 4
