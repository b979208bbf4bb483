"""The bus as ``ipbus up`` runs it by default — embedded nats-server with per-agency
permissions — and with key rotation and TLS, end to end."""

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
import trustme
from nats.errors import Error as NatsError

from contracts.agencies import dump_registry
from contracts.envelope import Envelope, new_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, event_subject
from services.cli.security import write_nats_config
from services.runtime.bus import DLQ_CONSUMER_HEADER, DLQ_REASON_HEADER
from services.runtime.identity import (
    AgencyConnection,
    AgencyKey,
    Settings,
    generate_seed,
    key_path,
    load_registry,
    prepare_registry,
    sign_envelope,
)
from services.runtime.server import EmbeddedNatsServer, TlsFiles, free_port
from services.sdk import Bus, query_case
from tests.conftest import REGISTRY
from tests.integration.conftest import StartBus
from tests.integration.test_audit_log import _opened
from tests.integration.wire import dead_letters, publish, wait_until

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
AGENCIES = (COORDINATOR, CUSTOMS, REGULATOR)

SettingsOf = Callable[..., Settings]


def _settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "var",
        "registry_path": REGISTRY,
        "outbox_poll_seconds": 0.2,
    }
    return Settings.model_validate(values | changes)


@pytest.fixture
def settings_of(tmp_path: Path, database_settings: dict[str, Any]) -> SettingsOf:
    """``_settings`` with ``changes``, on this test's database (SQLite or PostgreSQL)."""

    def settings(**changes: object) -> Settings:
        return _settings(tmp_path, **(database_settings | changes))

    return settings


@pytest.fixture
async def secured_bus(settings_of: SettingsOf, start_bus: StartBus) -> Bus:
    """No IPBUS_NATS_URL: the bus embeds nats-server with the generated permissions."""
    return await start_bus(settings_of(), AGENCIES)


def _case_opened(key: AgencyKey, *, made: datetime | None = None) -> Envelope:
    envelope = new_envelope(
        sender=CUSTOMS,
        payload=_opened(f"SH-{new_ulid()[-6:]}"),
        now=made or datetime.now(UTC),
        case_id=new_ulid(),
    )
    return sign_envelope(envelope, key)


async def _case_known(bus: Bus, case_id: str) -> bool:
    client = await bus.connect(CUSTOMS, name="test-ask")
    try:
        reply = await query_case(client, requester=CUSTOMS, case_id=case_id)
    finally:
        await client.close()
    return reply.case is not None


def _known(bus: Bus, case_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _case_known(bus, case_id)

    return check


async def test_the_default_bus_refuses_strangers_and_carries_signed_traffic(
    secured_bus: Bus,
) -> None:
    settings = secured_bus.settings
    assert secured_bus.server is not None
    assert secured_bus.server.config_file is not None
    assert "authorization" in secured_bus.server.config_file.read_text()

    with pytest.raises(NatsError):
        await nats.connect(secured_bus.nats_url, allow_reconnect=False, max_reconnect_attempts=0)

    key = AgencyKey(key_path(settings.keys_dir, CUSTOMS).read_bytes())
    customs = await secured_bus.connect(CUSTOMS, name="test-customs")
    regulator = await secured_bus.connect(REGULATOR, name="test-regulator")
    hub = await secured_bus.connect(COORDINATOR, name="test-hub")
    try:
        fresh = _case_opened(key)
        await publish(customs, publish_subject(fresh, COORDINATOR), fresh)
        case_id = fresh.subject or ""
        await wait_until(lambda: _case_known(secured_bus, case_id), what="the case applied")

        # A replay (stale, validly signed) and garbage to customs: the coordinator and the
        # customs service each dead-letter under their own permissions.
        stale = _case_opened(key, made=datetime.now(UTC) - timedelta(days=2))
        await publish(customs, publish_subject(stale, COORDINATOR), stale)
        await publish(
            regulator,
            event_subject(REGULATOR, CUSTOMS, new_ulid(), "referral.acknowledged"),
            b"garbage",
        )
        letters = await dead_letters(hub, at_least=3)
        found = {
            (m.headers or {}).get(DLQ_CONSUMER_HEADER): (m.headers or {}).get(DLQ_REASON_HEADER)
            for m in letters
            if (m.headers or {}).get(DLQ_REASON_HEADER) != "not_json"
        }
        assert found == {"coordinator": "replayed"}
        consumers = sorted((m.headers or {}).get(DLQ_CONSUMER_HEADER, "") for m in letters)
        assert consumers == ["agency-customs-shanghai", "coordinator", "coordinator"]
        assert not await _case_known(secured_bus, stale.subject or "")
    finally:
        for client in (customs, regulator, hub):
            await client.close()
    log = (settings.data_dir / "nats" / "nats-server.log").read_text()
    assert "Violation" not in log.replace("Authorization Violation", ""), log[-2000:]


def _write_registry(path: Path, current: str, previous: str | None) -> Path:
    """The committed registry with customs' keys set as a rotation would list them."""
    base = load_registry(REGISTRY)
    registry = base.with_public_keys({CUSTOMS: previous} if previous else {CUSTOMS: current})
    if previous:
        registry = registry.with_public_keys({CUSTOMS: current})
    path.write_text(dump_registry(registry), encoding="utf-8")
    return path


@pytest.mark.timeout(180)
async def test_a_rotated_key_is_honoured_during_the_grace_period_only(
    tmp_path: Path, settings_of: SettingsOf, start_bus: StartBus
) -> None:
    keys = tmp_path / "var" / "keys"
    keys.mkdir(parents=True)
    old_seed, new_seed = tmp_path / "old.nk", key_path(keys, CUSTOMS)
    old_seed.write_bytes(generate_seed())
    new_seed.write_bytes(generate_seed())
    old, new = AgencyKey(old_seed.read_bytes()), AgencyKey(new_seed.read_bytes())

    grace = _write_registry(tmp_path / "grace.toml", new.public_key, old.public_key)
    bus = await start_bus(settings_of(registry_path=grace), AGENCIES)
    try:
        assert bus.registry.get(CUSTOMS).previous_public_key == old.public_key
        # A replica still on the old seed may still log in and its signatures still verify.
        straggler = await AgencyConnection(CUSTOMS, seed_file=old_seed).connect(
            bus.nats_url, name="old-replica"
        )
        current = await bus.connect(CUSTOMS, name="new-replica")
        try:
            by_old, by_new = _case_opened(old), _case_opened(new)
            await publish(straggler, publish_subject(by_old, COORDINATOR), by_old)
            await publish(current, publish_subject(by_new, COORDINATOR), by_new)
            for envelope in (by_old, by_new):
                await wait_until(_known(bus, envelope.subject or ""), what="case applied")
        finally:
            await straggler.close()
            await current.close()
    finally:
        await bus.stop()

    after = _write_registry(tmp_path / "after.toml", new.public_key, None)
    bus = await start_bus(settings_of(registry_path=after), AGENCIES)
    try:
        assert bus.registry.get(CUSTOMS).previous_public_key is None
        with pytest.raises(NatsError):
            await nats.connect(
                bus.nats_url,
                nkeys_seed=str(old_seed),
                allow_reconnect=False,
                max_reconnect_attempts=0,
            )
        current = await bus.connect(CUSTOMS, name="new-replica")
        hub = await bus.connect(COORDINATOR, name="hub")
        try:
            late = _case_opened(old)
            await publish(current, publish_subject(late, COORDINATOR), late)
            letters = await dead_letters(hub, at_least=1)
            assert [(m.headers or {}).get(DLQ_REASON_HEADER) for m in letters] == ["bad_signature"]
            assert not await _case_known(bus, late.subject or "")
        finally:
            await current.close()
            await hub.close()
    finally:
        await bus.stop()


@pytest.mark.timeout(180)
async def test_the_bus_runs_over_tls_with_a_ca_made_here(
    tmp_path: Path, settings_of: SettingsOf, start_bus: StartBus
) -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    certs = tmp_path / "certs"
    certs.mkdir()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    server_cert.cert_chain_pems[0].write_to_path(str(certs / "server.pem"))
    server_cert.private_key_pem.write_to_path(str(certs / "server-key.pem"))

    plain = settings_of()
    prepare_registry(plain.registry_path, plain.keys_dir, plain.effective_registry_path)
    out = tmp_path / "nats-config"
    write_nats_config(
        plain.effective_registry_path,
        out,
        TlsFiles(certs / "server.pem", certs / "server-key.pem"),
    )
    assert "tls {" in (out / "nats.conf").read_text()
    server = EmbeddedNatsServer(out / "store", port=free_port(), config_file=out / "nats.conf")
    try:
        await server.start()
        url = f"tls://127.0.0.1:{server.port}"
        with pytest.raises((NatsError, ssl.SSLError)):  # no trusted TLS: no connection
            await nats.connect(
                server.url,
                nkeys_seed=str(key_path(plain.keys_dir, CUSTOMS)),
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
            )
        settings = settings_of(nats_url=url, nats_auth="nkey", nats_tls_ca=certs / "ca.pem")
        bus = await start_bus(settings, AGENCIES)
        try:
            customs = await bus.connect(CUSTOMS, name="tls-customs")
            try:
                assert customs.connected_url is not None
                assert customs.connected_url.scheme == "tls"
                key = AgencyKey(key_path(settings.keys_dir, CUSTOMS).read_bytes())
                envelope = _case_opened(key)
                await publish(customs, publish_subject(envelope, COORDINATOR), envelope)
            finally:
                await customs.close()
            case_id = envelope.subject or ""
            await wait_until(lambda: _case_known(bus, case_id), what="the case applied over TLS")
        finally:
            await bus.stop()
    finally:
        await asyncio.shield(server.stop())
