"""Secure by default: production refuses an open bus and never makes keys; development says
it runs open; ``ipbus keys new`` keeps the seed home and prints only the public key."""

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from services.cli.main import app, run_settings
from services.runtime.bus import ConfigurationError
from services.runtime.identity import (
    AgencyKey,
    Settings,
    announce_open_mode,
    require_authentication,
)
from services.runtime.ops import IpbusMetrics
from tests.conftest import REGISTRY, REPO

URL = "nats://127.0.0.1:9"  # nothing listens: the refusals must come before connecting


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``ipbus run`` configures logging onto the runner's captured stdout: undo it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "IPBUS_NATS_URL": URL,
        "IPBUS_DATA_DIR": str(tmp_path),
        "IPBUS_REGISTRY_PATH": str(REGISTRY),
        "IPBUS_POLICY_PATH": str(REPO / "deploy" / "policy.toml"),
        "IPBUS_HTTP_PORT": "0",
        **extra,
    }


def test_ipbus_run_is_production_unless_told() -> None:
    assert run_settings(Settings()).production
    assert run_settings(Settings(nats_url=URL)).nkey_auth  # auto means nkey there
    assert not run_settings(Settings(env="development")).production
    assert not Settings().production  # up, demo, tests


def test_ipbus_run_refuses_an_unauthenticated_bus_and_names_the_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "customs", "--agency", "customs-shanghai"],
        env=_env(tmp_path, IPBUS_NATS_AUTH="none"),
    )
    assert result.exit_code == 2
    assert "IPBUS_NATS_AUTH=nkey" in result.output
    assert not (tmp_path / "keys").exists()


def test_ipbus_run_never_generates_a_missing_key_and_names_the_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "customs", "--agency", "customs-shanghai"], env=_env(tmp_path)
    )
    assert result.exit_code == 2
    assert "ipbus keys new customs-shanghai" in " ".join(result.output.split())
    assert not list(tmp_path.rglob("*.nk"))
    assert not list(tmp_path.rglob("pseudonym.key"))


def test_production_refuses_open_mode_and_development_announces_it() -> None:
    with pytest.raises(ConfigurationError, match="IPBUS_NATS_AUTH=nkey"):
        require_authentication(Settings(nats_url=URL, nats_auth="none", env="production"))
    require_authentication(Settings(nats_url=URL, env="production"))  # nkey: fine
    metrics = IpbusMetrics(CollectorRegistry())
    banner = announce_open_mode(Settings(nats_url=URL), metrics, URL)
    assert banner is not None
    assert "OPEN MODE" in banner
    assert metrics.registry.get_sample_value("ipbus_open_mode") == 1
    assert announce_open_mode(Settings(), metrics, URL) is None  # embedded server: nkeys
    assert metrics.registry.get_sample_value("ipbus_open_mode") == 0


def test_keys_new_writes_the_seed_at_the_site_and_prints_only_the_public_key(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "site-keys"
    result = CliRunner().invoke(app, ["keys", "new", "customs-shanghai", "--keys-dir", str(keys)])
    assert result.exit_code == 0, result.output
    seed_file = keys / "customs-shanghai.nk"
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600
    key = AgencyKey(seed_file.read_bytes())
    assert result.stdout.strip() == key.public_key
    assert key.seed.decode() not in result.output
    again = CliRunner().invoke(app, ["keys", "new", "customs-shanghai", "--keys-dir", str(keys)])
    assert again.exit_code == 2  # never overwrites a site's key
    assert AgencyKey(seed_file.read_bytes()).public_key == key.public_key


def test_nats_config_tls_makes_the_certificates_the_config_names(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["nats-config", "--registry", str(REGISTRY), "--out", str(tmp_path), "--tls"]
    )
    assert result.exit_code == 0, result.output
    server = tmp_path / "server"
    config = (server / "nats.conf").read_text()
    for name in ("server.pem", "server-key.pem", "ca.pem", "route.pem", "route-key.pem"):
        assert f'"{name}"' in config
        assert (server / name).is_file()
    assert config.count("verify: true") == 2  # clients and routes
    assert "http: $IPBUS_NATS_MONITOR" in config
    assert "no_auth_user" not in config
    assert not list(server.glob("*.nk"))  # the server holds no agency's seed
    assert not (server / "ca-key.pem").exists()
    for key_file in (*server.glob("*-key.pem"), *tmp_path.glob("sites/*/*-key.pem")):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file
