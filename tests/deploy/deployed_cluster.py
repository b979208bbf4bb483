"""The three NATS nodes of deploy/compose.yaml, on loopback, running the files it mounts.

The configuration directory is what the documented command writes
(``ipbus nats-config --registry deploy/agencies.toml --out DIR --tls``); each node runs
``DIR/server/nats.conf`` from ``DIR/server`` (the compose ``working_dir``) with the compose
file's own environment, only the addresses moved to free loopback ports.
"""

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import nats
import yaml
from nats.errors import Error as NatsError
from typer.testing import CliRunner

from services.cli.main import app
from services.runtime.identity import AgencyConnection
from services.runtime.server import EmbeddedNatsServer, free_port
from tests.conftest import REGISTRY, REPO

__all__ = ["DeployedCluster", "compose_services", "generate_secrets"]

COMPOSE = REPO / "deploy" / "compose.yaml"


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))["services"]
    return services


def generate_secrets(out: Path) -> None:
    """Exactly the command the compose file's header gives (``--out`` aside)."""
    result = CliRunner().invoke(
        app, ["nats-config", "--registry", str(REGISTRY), "--out", str(out), "--tls"]
    )
    assert result.exit_code == 0, result.output


def _mounted_dir(service: dict[str, Any], target: str, secrets: Path) -> Path:
    """The host directory the compose service mounts at ``target``, under ``secrets``."""
    for volume in service["volumes"]:
        source, mounted = str(volume).split(":")[:2]
        if mounted == target:
            return secrets / source.removeprefix("./secrets/")
    raise AssertionError(f"nothing mounted at {target}")


class DeployedCluster:
    def __init__(self, secrets: Path, root: Path) -> None:
        services = compose_services()
        names = ["nats-1", "nats-2", "nats-3"]
        route_ports = {name: free_port() for name in names}
        self.monitor_ports = {name: free_port() for name in names}
        self.nodes: dict[str, EmbeddedNatsServer] = {}
        for name in names:
            service = services[name]
            config_dir = _mounted_dir(service, "/etc/nats", secrets)
            assert service["working_dir"] == "/etc/nats"
            assert service["command"] == ["--config", "/etc/nats/nats.conf"]
            env = {str(k): str(v) for k, v in service["environment"].items()}
            port = free_port()
            env |= {
                "IPBUS_NATS_LISTEN": f"127.0.0.1:{port}",
                "IPBUS_NATS_MONITOR": f"127.0.0.1:{self.monitor_ports[name]}",
                "IPBUS_NATS_STORE": str(root / name),
                "IPBUS_NATS_CLUSTER_LISTEN": f"127.0.0.1:{route_ports[name]}",
                **{
                    f"IPBUS_NATS_ROUTE_{i + 1}": f"nats-route://127.0.0.1:{route_ports[n]}"
                    for i, n in enumerate(names)
                },
            }
            self.nodes[name] = EmbeddedNatsServer(
                root / name,
                port=port,
                config_file=config_dir / "nats.conf",
                env={**os.environ, **env},
                cwd=config_dir,
            )

    @property
    def url(self) -> str:
        return next(iter(self.nodes.values())).url

    async def start(self, ready: AgencyConnection, *, timeout_s: float = 60.0) -> None:
        await asyncio.gather(*(node.start() for node in self.nodes.values()))
        deadline = time.monotonic() + timeout_s
        while True:  # until the nodes have elected a meta leader and JetStream answers
            try:
                nc = await nats.connect(self.url, connect_timeout=2, **ready.nats_options())
                try:
                    await nc.jetstream().account_info()
                    return
                finally:
                    await nc.close()
            except (NatsError, OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes.values()))
