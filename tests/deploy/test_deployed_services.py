"""``ipbus run`` as compose runs it, against the nodes compose runs: production, mutual TLS.

The coordinator's and customs' services start as processes with the compose command and
environment (paths under ``/var/lib/ipbus`` moved to a temporary directory whose ``keys`` is
the agency's own site directory, as mounted), join the secured three-node cluster, and carry
a signed case from customs to the coordinator and back as a query answer.
"""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from contracts.envelope import new_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, EVENT_STREAM
from services.cli.security import site_dir
from services.runtime.bus import RetryableError
from services.runtime.identity import AgencyKey, key_path, sign_envelope
from services.sdk import query_case
from tests.conftest import REPO
from tests.deploy.deployed_cluster import DeployedCluster, compose_services, generate_secrets
from tests.integration.secured import SecuredServer
from tests.integration.test_audit_log import _opened
from tests.integration.wire import publish, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CUSTOMS = "customs-shanghai"
CONTAINER_DATA = "/var/lib/ipbus"


@pytest.fixture(scope="module")
async def deployed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredServer]:
    secrets = tmp_path_factory.mktemp("secrets")
    generate_secrets(secrets)
    cluster = DeployedCluster(secrets, tmp_path_factory.mktemp("nats"))
    running = SecuredServer(next(iter(cluster.nodes.values())), secrets, tls=True)
    await cluster.start(running.connection(COORDINATOR))
    try:
        yield running
    finally:
        await cluster.stop()


def _compose_env(service: str, secrets: Path, data_dir: Path, nats_url: str) -> dict[str, str]:
    """The compose service's environment, its container paths moved under ``data_dir``."""
    declared = {str(k): str(v) for k, v in compose_services()[service]["environment"].items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
    for name, value in declared.items():
        env[name] = value.replace(CONTAINER_DATA, str(data_dir))
    env |= {
        "IPBUS_NATS_URL": nats_url,  # the nodes' loopback addresses, still tls://
        "IPBUS_REGISTRY_PATH": str(secrets / "agencies.toml"),
        "IPBUS_POLICY_PATH": str(REPO / "deploy" / "policy.toml"),
        "IPBUS_HTTP_PORT": "0",
        "IPBUS_OUTBOX_POLL_SECONDS": "0.2",
    }
    (data_dir / "keys").symlink_to(site_dir(secrets, service))  # the one mount it has
    return env


class Services:
    """``ipbus run`` processes started with the compose command and environment."""

    def __init__(self, deployed: SecuredServer, root: Path) -> None:
        self.deployed = deployed
        self.root = root
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        data_dir = self.root / name
        data_dir.mkdir()
        url = self.deployed.url.replace("nats://", "tls://")
        env = _compose_env(name, self.deployed.credentials, data_dir, url)
        assert env["IPBUS_ENV"] == "production"
        command = compose_services()[name]["command"]
        with (self.root / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-c", "from services.cli.main import app; app()", *command[1:]],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def assert_running(self) -> None:
        for name, process in self.processes.items():
            log = (self.root / f"{name}.log").read_text(errors="replace")
            assert process.poll() is None, log[-3000:]

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def services(deployed: SecuredServer, tmp_path: Path) -> Iterator[Services]:
    running = Services(deployed, tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def test_services_run_as_compose_runs_them_and_carry_a_case(
    deployed: SecuredServer, services: Services
) -> None:
    site = site_dir(deployed.credentials, CUSTOMS)
    key = AgencyKey(key_path(site, CUSTOMS).read_bytes())
    envelope = sign_envelope(
        new_envelope(
            sender=CUSTOMS,
            payload=_opened(f"SH-{new_ulid()[-6:]}"),
            now=datetime.now(UTC),
            case_id=new_ulid(),
        ),
        key,
    )
    hub = await deployed.connection(COORDINATOR).connect(deployed.url, name="test-hub")
    customs = await deployed.connection(CUSTOMS).connect(deployed.url, name="test-customs")
    try:
        services.start(COORDINATOR)

        async def streams_provisioned() -> bool:
            services.assert_running()
            try:
                info = await hub.jetstream().stream_info(EVENT_STREAM)
            except (NotFoundError, NatsError, TimeoutError):
                return False  # not there yet, or the cluster is still electing its leader
            return info.config.max_age is not None  # the policy's limits: the service did it

        await wait_until(streams_provisioned, timeout_s=60, what="the coordinator's streams")
        services.start(CUSTOMS)

        async def published() -> bool:
            try:  # a 3-replica stream answers once its leader is elected; Nats-Msg-Id dedupes
                await publish(customs, publish_subject(envelope, COORDINATOR), envelope)
            except (NatsError, TimeoutError):
                await asyncio.sleep(0.2)
                return False
            return True

        await wait_until(published, timeout_s=30, what="JetStream to store the case")

        async def answered() -> bool:
            services.assert_running()
            try:
                reply = await query_case(customs, requester=CUSTOMS, case_id=envelope.subject or "")
            except RetryableError:
                await asyncio.sleep(0.2)
                return False
            return reply.case is not None

        await wait_until(answered, timeout_s=60, what="the coordinator answered the case")
        services.assert_running()
    finally:
        await customs.close()
        await hub.close()
