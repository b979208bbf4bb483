"""The permissions generated from the registry: least rights per agency, wider for the hub."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.agencies import AgencyKeyPeriod, Registry
from services.cli.main import app
from services.runtime.identity import AgencyKey, generate_seed, load_registry
from services.runtime.server import (
    ClusterNode,
    agency_permissions,
    cluster_config,
    inbox_prefix,
    is_inbox,
    operator_permissions,
    single_node_config,
)
from tests.conftest import REGISTRY


@pytest.fixture(scope="module")
def registry() -> Registry:
    base = load_registry(REGISTRY)
    return base.with_public_keys(
        {a.id: AgencyKey(generate_seed()).public_key for a in base.agencies}
    )


def test_an_agency_may_publish_only_as_itself_and_read_only_its_consumer(
    registry: Registry,
) -> None:
    rights = agency_permissions(registry.get("customs-shanghai"))
    assert rights.publish == (
        "ipbus.v1.customs-shanghai.>",
        "ipbus.query.customs-shanghai.>",
        "ipbus.dlq.agency-customs-shanghai.>",
        "$JS.API.CONSUMER.CREATE.IPBUS.agency-customs-shanghai.ipbus.v1.*.customs-shanghai.>",
        "$JS.API.CONSUMER.INFO.IPBUS.agency-customs-shanghai",
        "$JS.API.CONSUMER.MSG.NEXT.IPBUS.agency-customs-shanghai",
        "$JS.ACK.IPBUS.agency-customs-shanghai.>",
    )
    # no right at all on the evidence bucket: a publish there could roll it up (wipe it)
    assert not any("EVIDENCE" in s for s in rights.publish + rights.subscribe)
    assert rights.subscribe == ("_INBOX_customs-shanghai.>",)
    assert not rights.allow_responses
    assert inbox_prefix("customs-shanghai") == "_INBOX_customs-shanghai"


def test_the_coordinator_reads_everything_and_provisions_but_deletes_nothing(
    registry: Registry,
) -> None:
    rights = agency_permissions(registry.get("coordinator"))
    assert "ipbus.v1.>" in rights.subscribe
    assert "ipbus.v1.coordinator.>" in rights.publish
    assert "ipbus.v1.>" not in rights.publish
    assert "$JS.API.STREAM.CREATE.IPBUS" in rights.publish
    # the hub alone writes and reads the evidence bucket, for the parties
    assert "$JS.API.STREAM.MSG.GET.OBJ_IPBUS_EVIDENCE" in rights.publish
    assert "$JS.API.STREAM.INFO.OBJ_IPBUS_EVIDENCE" in rights.publish
    assert {"$O.IPBUS_EVIDENCE.C.>", "$O.IPBUS_EVIDENCE.M.>"} <= set(rights.publish)
    assert not any("DELETE" in s or "PURGE" in s for s in rights.publish)
    assert rights.allow_responses


def test_every_agency_is_a_user_and_nobody_is_anonymous(registry: Registry) -> None:
    text = single_node_config(registry)
    for agency in registry.agencies:
        assert f'nkey: "{agency.public_key}"' in text
    assert "no_auth_user" not in text
    assert "tls" not in text


def test_a_previous_key_stays_a_user_during_rotation(registry: Registry) -> None:
    new_key = AgencyKey(generate_seed()).public_key
    rotated = registry.with_public_keys({"customs-shanghai": new_key})
    text = single_node_config(rotated)
    assert f'nkey: "{new_key}"' in text
    assert f'nkey: "{registry.get("customs-shanghai").public_key}"' in text
    assert "previous key, rotation grace period" in text


def test_a_registry_without_keys_cannot_be_turned_into_users() -> None:
    with pytest.raises(ValueError, match="no public key"):
        single_node_config(load_registry(REGISTRY))


def test_cluster_nodes_route_to_each_other(registry: Registry) -> None:
    nodes = [ClusterNode(f"n{i}", f"n{i}", 4222, 6222) for i in (1, 2, 3)]
    text = cluster_config(registry, nodes[0], nodes)
    assert '"nats-route://n2:6222", "nats-route://n3:6222"' in text
    assert "nats-route://n1:6222" not in text
    assert 'server_name: "n1"' in text


def test_the_command_writes_configs_and_one_seed_per_agency_each_in_its_own_site(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        app, ["nats-config", "--registry", str(REGISTRY), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    ids = [a.id for a in load_registry(REGISTRY).agencies]
    assert not list(tmp_path.glob("*.nk"))  # never all seeds in one directory
    for agency_id in ids:
        seeds = list((tmp_path / "sites" / agency_id).glob("*.nk"))
        assert [p.name for p in seeds] == [f"{agency_id}.nk"]
        assert seeds[0].stat().st_mode & 0o077 == 0
    pseudonym = {p.parent.name for p in (tmp_path / "sites").glob("*/pseudonym.key")}
    overseas = {a.id for a in load_registry(REGISTRY).agencies if a.kind == "overseas"}
    assert overseas
    desks = {a.id for a in load_registry(REGISTRY).agencies if a.kind == "rightsholders"}
    assert desks  # a private party's desk sends nothing abroad: it needs no pseudonym key
    assert pseudonym == set(ids) - overseas - desks  # senders abroad have it, never the recipient
    assert len({(tmp_path / "sites" / a / "pseudonym.key").read_bytes() for a in pseudonym}) == 1
    effective = load_registry(tmp_path / "agencies.toml")
    seed = (tmp_path / "sites" / "customs-shanghai" / "customs-shanghai.nk").read_bytes()
    assert effective.get("customs-shanghai").public_key == AgencyKey(seed).public_key
    assert (tmp_path / "nats.conf").is_file()
    assert (tmp_path / "server" / "nats.conf").is_file()
    assert len(list((tmp_path / "cluster").glob("*.conf"))) == 3
    operator = AgencyKey((tmp_path / "operator" / "operator.nk").read_bytes()).public_key
    for config in [
        tmp_path / "nats.conf",
        tmp_path / "server" / "nats.conf",
        *(tmp_path / "cluster").glob("*.conf"),
    ]:
        assert f'nkey: "{operator}"' in config.read_text()


def test_a_revoked_key_gets_no_nats_user_and_history_keys_do(registry: Registry) -> None:
    current, revoked, extra = (AgencyKey(generate_seed()).public_key for _ in range(3))
    customs = registry.get("customs-shanghai").model_copy(
        update={
            "public_key": current,
            "previous_public_key": revoked,
            "keys": (
                AgencyKeyPeriod(public_key=revoked, revoked_at=datetime(2026, 1, 1, tzinfo=UTC)),
                AgencyKeyPeriod(public_key=extra),
            ),
        }
    )
    agencies = tuple(customs if a.id == customs.id else a for a in registry.agencies)
    text = single_node_config(Registry(agencies=agencies))
    assert current in text
    assert extra in text
    assert revoked not in text


def test_the_operator_reads_state_and_letters_and_replays_but_nothing_more() -> None:
    rights = operator_permissions()
    assert rights.publish == (
        "ipbus.v1.operator.>",
        "ipbus.query.coordinator.>",
        "$JS.API.STREAM.NAMES",
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.INFO.IPBUS",
        "$JS.API.STREAM.INFO.IPBUS_DLQ",
        "$JS.API.CONSUMER.NAMES.IPBUS",
        "$JS.API.CONSUMER.LIST.IPBUS",
        "$JS.API.CONSUMER.INFO.IPBUS.*",
        "$JS.API.STREAM.MSG.GET.IPBUS_DLQ",
        "$JS.API.STREAM.MSG.DELETE.IPBUS_DLQ",
        "$JS.API.STREAM.INFO.IPBUS_AUDIT_ANCHORS",
        "$JS.API.STREAM.MSG.GET.IPBUS_AUDIT_ANCHORS",
    )
    assert rights.subscribe == ("_INBOX_operator.>",)
    assert not rights.allow_responses


def test_the_operator_is_a_user_only_when_its_key_is_given(registry: Registry) -> None:
    operator = AgencyKey(generate_seed()).public_key
    assert operator not in single_node_config(registry)
    text = single_node_config(registry, operator_key=operator)
    assert f'nkey: "{operator}"' in text
    assert '"ipbus.v1.operator.>"' in text


def test_each_dlq_subject_has_one_writer(registry: Registry) -> None:
    writers = {
        agency.id: [s for s in agency_permissions(agency).publish if s.startswith("ipbus.dlq.")]
        for agency in registry.agencies
    }
    assert writers["coordinator"] == ["ipbus.dlq.coordinator.>", "ipbus.dlq.*.max_deliveries"]
    assert writers["customs-shanghai"] == ["ipbus.dlq.agency-customs-shanghai.>"]


def test_no_agency_may_take_the_operators_name(registry: Registry) -> None:
    agency = registry.get("customs-shanghai").model_copy(update={"id": "operator"})
    renamed = Registry(agencies=(*registry.agencies, agency))
    with pytest.raises(ValueError, match="reserved for the operator"):
        single_node_config(renamed)


def test_an_inbox_is_told_from_a_bus_subject() -> None:
    assert is_inbox("_INBOX.abc.def")
    assert is_inbox("_INBOX_customs-shanghai.abc")
    assert not is_inbox("ipbus.v1.coordinator.customs-shanghai.case.opened")
    assert not is_inbox("_INBOX")
    assert not is_inbox("_INBOXES.x")
