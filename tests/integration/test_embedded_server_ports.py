"""Ports for embedded servers: never one the kernel hands to outgoing connections, never
the same one twice, and a server that cannot bind says so in its own words."""

import socket
from pathlib import Path

import pytest

from services.runtime.bus import ConfigurationError
from services.runtime.server import EmbeddedNatsServer, free_port

pytestmark = pytest.mark.integration

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    if EPHEMERAL.exists():
        low, high = (int(bound) for bound in EPHEMERAL.read_text().split())
        assert not [port for port in ports if low <= port <= high]
    for port in ports[:5]:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))


def test_a_preferred_port_someone_listens_on_is_not_handed_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert free_port(busy) != busy


async def test_a_server_whose_port_is_taken_exits_quoting_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        server = EmbeddedNatsServer(tmp_path / "nats", port=taken.getsockname()[1])
        with pytest.raises(ConfigurationError, match="address already in use"):
            await server.start()
        await server.stop()
