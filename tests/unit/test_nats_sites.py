"""Leaf-node site configuration: the site's link carries no event subject, the agency's
hub user gets exactly what stream sourcing needs, and the command writes both sides."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.agencies import Registry
from services.cli.main import app
from services.runtime.identity import AgencyKey, generate_seed, load_registry
from services.runtime.server import (
    SEED_VARIABLE,
    agency_permissions,
    find_nats_server,
    hub_config,
    site_config,
    site_link_permissions,
)
from tests.conftest import REGISTRY

CUSTOMS = "customs-shanghai"


@pytest.fixture(scope="module")
def registry() -> Registry:
    base = load_registry(REGISTRY)
    return base.with_public_keys(
        {a.id: AgencyKey(generate_seed()).public_key for a in base.agencies}
    )


def test_a_site_link_adds_only_what_sourcing_needs(registry: Registry) -> None:
    customs = registry.get(CUSTOMS)
    own = agency_permissions(customs)
    link = site_link_permissions(customs, "hub")
    assert set(own.publish) <= set(link.publish)
    assert set(own.subscribe) <= set(link.subscribe)
    extra_publish = set(link.publish) - set(own.publish)
    assert extra_publish == {
        f"$JS.hub.API.CONSUMER.CREATE.IPBUS.*.ipbus.v1.*.{CUSTOMS}.>",
        "$JS.S.>",
        "$JS.FC.>",
        "$JSC.R.>",
    }
    assert f"$JS.{CUSTOMS}.API.CONSUMER.CREATE.IPBUS.>" in link.subscribe
    assert not any(
        word in subject for subject in link.publish for word in ("DELETE", "PURGE", "UPDATE")
    )


def test_the_site_server_has_its_domain_a_quiet_link_and_no_seed_in_the_file(
    registry: Registry,
) -> None:
    text = site_config(registry, CUSTOMS, hub_urls=["nats-leaf://hub:7422"])
    assert f'jetstream {{ domain: "{CUSTOMS}" }}' in text
    assert f"nkey: ${SEED_VARIABLE}" in text
    assert 'deny_exports: ["ipbus.v1.>", "ipbus.dlq.>"]' in text
    assert not re.search(r"\bSU[A-Z2-7]{50,}", text)  # no seed: it comes from the environment
    assert f'nkey: "{registry.get(CUSTOMS).public_key}"' in text


def test_the_hub_widens_only_the_site_agencys_user(registry: Registry) -> None:
    text = hub_config(registry, [CUSTOMS], hub_domain="hub", leaf_port=7422)
    assert 'jetstream { domain: "hub" }' in text
    assert "port: 7422" in text
    assert text.count("$JS.S.>") == 2  # publish and subscribe of the one site user
    assert f"# {CUSTOMS} (leaf site)" in text


def test_the_command_writes_the_hub_and_the_site(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["nats-config", "--registry", str(REGISTRY), "--out", str(tmp_path), "--site", CUSTOMS],
    )
    assert result.exit_code == 0, result.output
    site_file = tmp_path / "sites" / CUSTOMS / "leaf.conf"
    assert "leafnodes" in site_file.read_text()
    hub_files = [tmp_path / "hub.conf", *sorted((tmp_path / "cluster").glob("hub-*.conf"))]
    assert len(hub_files) == 4  # a single hub node, and each node of a 3-node hub cluster
    seed = (tmp_path / "sites" / CUSTOMS / f"{CUSTOMS}.nk").read_text().strip()
    for path in (*hub_files, site_file):  # the real server accepts each file as written
        checked = subprocess.run(
            [str(find_nats_server()), "-t", "-c", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, SEED_VARIABLE: seed},
            timeout=30,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    unknown = CliRunner().invoke(
        app, ["nats-config", "--registry", str(REGISTRY), "--out", str(tmp_path), "--site", "x"]
    )
    assert unknown.exit_code == 2
    assert "not in the registry" in unknown.output
