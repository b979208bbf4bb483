"""A three-node JetStream cluster on loopback, from ``deploy/nats/cluster.conf`` itself.

The production file takes each node's name, store and routes from the environment;
here the environment points the three nodes at loopback ports, nothing else changes.
"""

import asyncio
import os
import time
from pathlib import Path

import nats
from nats.errors import Error as NatsError

from services.runtime.server import EmbeddedNatsServer, free_port
from tests.conftest import REPO

__all__ = ["CLUSTER_CONFIG", "LoopbackCluster"]

CLUSTER_CONFIG = REPO / "deploy" / "nats" / "cluster.conf"


class LoopbackCluster:
    """Three ``nats-server`` processes routed to each other on 127.0.0.1."""

    def __init__(self, root: Path, size: int = 3) -> None:
        route_ports = [free_port() for _ in range(size)]
        routes = {
            f"IPBUS_NATS_ROUTE_{i + 1}": f"nats-route://127.0.0.1:{p}"
            for i, p in enumerate(route_ports)
        }
        self.nodes: dict[str, EmbeddedNatsServer] = {}
        for index, route_port in enumerate(route_ports):
            name = f"nats-{index + 1}"
            store = root / name
            env = {
                **os.environ,
                **routes,
                "IPBUS_NATS_NODE": name,
                "IPBUS_NATS_STORE": str(store),
                "IPBUS_NATS_CLUSTER_LISTEN": f"127.0.0.1:{route_port}",
            }
            self.nodes[name] = EmbeddedNatsServer(
                store,
                port=free_port(),
                config_file=CLUSTER_CONFIG,
                extra_args=("-m", "0"),  # no monitoring port: three nodes share one host
                env=env,
            )

    @property
    def url(self) -> str:
        """Every node, comma-separated, as ``IPBUS_NATS_URL`` takes them."""
        return ",".join(node.url for node in self.nodes.values())

    async def start(self, *, timeout_s: float = 30.0) -> None:
        await asyncio.gather(*(node.start() for node in self.nodes.values()))
        await self.wait_for_jetstream(timeout_s=timeout_s)

    async def wait_for_jetstream(self, *, timeout_s: float = 30.0) -> None:
        """Until the nodes have elected a meta leader and JetStream answers."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                nc = await nats.connect(self.url.split(","), connect_timeout=2)
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
