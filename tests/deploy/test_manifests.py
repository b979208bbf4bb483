"""The production stack's files, checked as far as a machine without Docker allows.

YAML well-formed; the compose file's structure against the agency registry; every
Kubernetes manifest against the bundled Kubernetes JSON schemas (offline); every file a
kustomization or a volume names exists; every ``IPBUS_*`` variable is a real setting.
"""

import json
import os
import re
import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate import utils as kubernetes  # type: ignore[import-untyped]

from services.cli.security import write_nats_config
from services.runtime.identity import Settings
from services.runtime.server import DEPLOYED_ENV
from tests.conftest import REGISTRY, REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SECRETS = "./secrets/"
"""What ``ipbus nats-config --out deploy/secrets --tls`` writes: never in the repository."""
WORKLOADS = ("Deployment", "StatefulSet")
"""How the agencies run on Kubernetes: the coordinator as a StatefulSet (its pods know their
index), every other agency as a Deployment."""
SERVICE_OF_KIND = {
    "coordinator": "coordinator",
    "customs": "customs",
    "enforcement": "enforcement",
    "judicial": "judicial",
    "overseas": "overseas",
    "mediation": "mediation",
    "rightsholders": "holders",
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
        if d["kind"] in WORKLOADS and "agency" in d["metadata"].get("labels", {})
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
    assert [job["job_name"] for job in config["scrape_configs"]] == ["ipbus", "nats"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats")
    (exporter,) = [
        c
        for c in nats["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith("natsio/prometheus-nats-exporter:")
    ]
    assert "http://127.0.0.1:8222" in exporter["args"]
    assert any(d["kind"] == "Deployment" and d["metadata"]["name"] == "alertmanager" for d in docs)


def test_each_coordinator_pod_prefers_its_own_share_of_the_partitions() -> None:
    """The StatefulSet hands pod i "i/n" (its pod-index label): as the settings read it,
    the pods' preferred partitions are disjoint and cover every partition, so no two pods
    settle one by coin and none is left for a takeover."""
    docs = [d for _, d in _k8s_documents()]
    coordinator = next(
        d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "coordinator"
    )
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ipbus-env"
    )
    container = coordinator["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    replicas = coordinator["spec"]["replicas"]
    shares = []
    for index in range(replicas):
        # Kubernetes expands $(VAR) from the variables defined before it
        value = env["IPBUS_COORDINATOR_PARTITIONS"]["value"].replace("$(POD_INDEX)", str(index))
        settings = Settings(
            partitions=int(config["data"]["IPBUS_PARTITIONS"]), coordinator_partitions=value
        )
        shares.append(settings.preferred_partitions or frozenset())
    assert all(shares), shares  # every pod reads something (the "/n" is spec.replicas)
    assert sorted(p for share in shares for p in share) == list(range(settings.partitions))


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
        env = services[name]["environment"]
        assert services[name]["command"] == ["--config", "/etc/nats/nats.conf"]
        routes = [env[f"IPBUS_NATS_ROUTE_{i}"] for i in (1, 2, 3)]
        assert sorted(routes) == sorted(f"nats-route://{n}:6222" for n in nats)
    assert {"postgres", "prometheus", "alertmanager", "grafana"} <= set(services)


def test_compose_sends_alerts_to_alertmanager_and_scrapes_every_nats_node() -> None:
    services = _compose()["services"]
    alertmanager = services["alertmanager"]
    assert (
        "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in (alertmanager["volumes"])
    )
    assert all(port.startswith("127.0.0.1:") for port in alertmanager["ports"])
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text("utf-8"))
    (alerting,) = scrape["alerting"]["alertmanagers"]
    assert alerting["static_configs"][0]["targets"] == ["alertmanager:9093"]
    nodes = sorted(name for name in services if re.fullmatch(r"nats-\d", name))
    exporters = {
        name: service
        for name, service in services.items()
        if service["image"].startswith("natsio/prometheus-nats-exporter:")
    }
    # one exporter in each node's network: the monitoring port stays on the node's 127.0.0.1
    assert sorted(e["network_mode"] for e in exporters.values()) == [
        f"service:{node}" for node in nodes
    ]
    for exporter in exporters.values():
        assert "http://127.0.0.1:8222" in exporter["command"]
        assert "ports" not in exporter
    nats = next(job for job in scrape["scrape_configs"] if job["job_name"] == "nats")
    assert nats["static_configs"][0]["targets"] == [f"{node}:7777" for node in nodes]


def test_compose_references_resolve() -> None:
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        assert "image" in service, name
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(SECRETS):
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


# --- secured by default (issue 16) -------------------------------------------------------


def test_compose_matches_the_compose_specification() -> None:
    """The compose-spec JSON schema (as ``docker compose config`` checks structure)."""
    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("compose-spec.json")
        .read_text("utf-8")
    )
    jsonschema.validate(_compose(), schema)
    broken = _compose()
    broken["services"]["coordinator"]["volumes"] = "not-a-list"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
    if shutil.which("docker")
    else True,
    reason="no docker compose plugin here (the schema check above still runs)",
)
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    for name in ("compose.yaml", "policy.toml"):
        shutil.copy(DEPLOY / name, tmp_path / name)
    for name in ("prometheus", "grafana"):
        shutil.copytree(DEPLOY / name, tmp_path / name)
    write_nats_config(REGISTRY, tmp_path / "secrets", dev_tls=True)
    env = {**os.environ, "IPBUS_DB_PASSWORD": "x", "GRAFANA_ADMIN_PASSWORD": "y"}
    result = subprocess.run(
        ["docker", "compose", "-f", "compose.yaml", "config", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_compose_services_are_secured_and_mount_only_their_own_secrets() -> None:
    services = _compose()["services"]
    for agency in _agencies():
        service = services[agency]
        env = service["environment"]
        assert env["IPBUS_ENV"] == "production"
        assert env["IPBUS_NATS_AUTH"] == "nkey"
        assert all(url.startswith("tls://") for url in env["IPBUS_NATS_URL"].split(","))
        assert {"IPBUS_NATS_TLS_CA", "IPBUS_NATS_TLS_CERT", "IPBUS_NATS_TLS_KEY"} <= set(env)
        assert "IPBUS_DATABASE_URL" not in env  # each its own, from its env_file
        assert service["env_file"] == f"./secrets/database/{agency}.env"
        secret_mounts = [v.split(":")[0] for v in service["volumes"] if v.startswith(SECRETS)]
        assert sorted(secret_mounts) == sorted(
            ["./secrets/agencies.toml", f"./secrets/sites/{agency}"]
        ), agency
    for name in ("nats-1", "nats-2", "nats-3"):
        nats = services[name]
        assert nats["environment"]["IPBUS_NATS_MONITOR"].startswith("127.0.0.1:")
        assert "ports" not in nats
        assert nats["volumes"][0] == "./secrets/server:/etc/nats:ro"
        assert nats["working_dir"] == "/etc/nats"
        assert set(nats["environment"]) == set(DEPLOYED_ENV)


def test_kubernetes_pods_mount_only_their_own_agencys_secrets() -> None:
    docs = [d for _, d in _k8s_documents()]
    env = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ipbus-env")
    assert env["data"]["IPBUS_ENV"] == "production"
    assert env["data"]["IPBUS_NATS_AUTH"] == "nkey"
    assert env["data"]["IPBUS_NATS_URL"].startswith("tls://")
    for doc in docs:
        if doc["kind"] not in WORKLOADS or "agency" not in doc["metadata"].get("labels", {}):
            continue
        agency = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        env_secrets = {
            s["secretRef"]["name"] for s in pod["containers"][0]["envFrom"] if "secretRef" in s
        }
        assert secrets == {f"ipbus-site-{agency}"}
        assert env_secrets == {f"ipbus-db-{agency}"}
    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats")
    container = nats["spec"]["template"]["spec"]["containers"][0]
    node_env = {e["name"]: e.get("value") for e in container["env"]}
    assert set(node_env) == set(DEPLOYED_ENV)
    assert node_env["IPBUS_NATS_MONITOR"].startswith("127.0.0.1:")
    assert container["workingDir"] == "/etc/nats"
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "nats")
    assert {p["port"] for p in service["spec"]["ports"]} == {4222, 6222}  # no monitoring
