"""Key history on a running bus: a rotation keeps old events verifying, a revocation is at once.

The registry lists customs' keys with validity periods (``[[agencies.keys]]``); NATS logs in
with the current seed, the events are signed with whichever key the scenario needs.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.agencies import AgencyKeyPeriod, Registry, dump_registry
from contracts.envelope import publish_subject
from contracts.subjects import COORDINATOR
from services.runtime.bus import DLQ_DETAIL_HEADER, DLQ_REASON_HEADER
from services.runtime.identity import AgencyKey, generate_seed, key_path, load_registry
from services.sdk import Bus
from tests.conftest import REGISTRY
from tests.integration.conftest import StartBus
from tests.integration.test_secured_bus import (
    AGENCIES,
    CUSTOMS,
    _case_known,
    _case_opened,
    _known,
    _settings,
)
from tests.integration.wire import dead_letters, publish, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _with_history(old: str, new: str, rotated: datetime, revoked: datetime | None) -> Registry:
    base = load_registry(REGISTRY)
    customs = base.get(CUSTOMS).model_copy(
        update={
            "public_key": new,
            "keys": (
                AgencyKeyPeriod(public_key=old, valid_until=rotated, revoked_at=revoked),
                AgencyKeyPeriod(public_key=new, valid_from=rotated),
            ),
        }
    )
    return Registry(agencies=tuple(customs if a.id == CUSTOMS else a for a in base.agencies))


async def _run(start_bus: StartBus, tmp_path: Path, registry: Registry, name: str) -> Bus:
    path = tmp_path / f"{name}.toml"
    path.write_text(dump_registry(registry), encoding="utf-8")
    return await start_bus(_settings(tmp_path, registry_path=path), AGENCIES)


async def test_events_signed_before_a_rotation_verify_after_it_and_revocation_is_at_once(
    tmp_path: Path, start_bus: StartBus
) -> None:
    keys = tmp_path / "var" / "keys"
    keys.mkdir(parents=True)
    key_path(keys, CUSTOMS).write_bytes(generate_seed())  # the new seed: NATS login
    old, new = AgencyKey(generate_seed()), AgencyKey(key_path(keys, CUSTOMS).read_bytes())
    rotated = datetime.now(UTC) - timedelta(minutes=10)

    bus = await _run(
        start_bus, tmp_path, _with_history(old.public_key, new.public_key, rotated, None), "a"
    )
    try:
        customs = await bus.connect(CUSTOMS, name="customs")
        hub = await bus.connect(COORDINATOR, name="hub")
        try:
            before = _case_opened(old, made=rotated - timedelta(minutes=1))
            after_by_old = _case_opened(old)
            by_new = _case_opened(new)
            for envelope in (before, after_by_old, by_new):
                await publish(customs, publish_subject(envelope, COORDINATOR), envelope)
            await wait_until(_known(bus, before.subject or ""), what="pre-rotation event")
            await wait_until(_known(bus, by_new.subject or ""), what="new-key event")
            letters = await dead_letters(hub, at_least=1)
            assert [(m.headers or {}).get(DLQ_REASON_HEADER) for m in letters] == ["bad_signature"]
            assert not await _case_known(bus, after_by_old.subject or "")
        finally:
            await customs.close()
            await hub.close()
    finally:
        await bus.stop()

    revoked = datetime.now(UTC)
    registry = _with_history(old.public_key, new.public_key, rotated, revoked)
    bus = await _run(start_bus, tmp_path, registry, "b")
    try:
        customs = await bus.connect(CUSTOMS, name="customs")
        hub = await bus.connect(COORDINATOR, name="hub")
        try:
            backdated = _case_opened(old, made=rotated - timedelta(minutes=2))
            await publish(customs, publish_subject(backdated, COORDINATOR), backdated)
            letters = await dead_letters(hub, at_least=2)
            details = [str((m.headers or {}).get(DLQ_DETAIL_HEADER, "")) for m in letters]
            assert any("revoked at" in d for d in details), details
            assert not await _case_known(bus, backdated.subject or "")
        finally:
            await customs.close()
            await hub.close()
    finally:
        await bus.stop()
