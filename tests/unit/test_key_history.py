"""Key history (registry ``[[agencies.keys]]``): which key may have signed an event, when."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.agencies import Agency, AgencyKeyPeriod, dump_registry, parse_registry
from contracts.envelope import EnvelopeRejected, Event, RejectReason, decode_event
from services.runtime.identity import (
    AgencyKey,
    generate_seed,
    sender_keys,
    sign_envelope,
    verify_sender,
)
from tests.unit.builders import CUSTOMS, WHEN, envelope_for, goods_detained, wire

CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"
OLD = AgencyKey(generate_seed())
NEW = AgencyKey(generate_seed())
ROTATED = WHEN + timedelta(days=10)


def _customs(*periods: AgencyKeyPeriod, public_key: str | None = None) -> Agency:
    return Agency(
        id=CUSTOMS,
        kind="customs",
        region="310000",
        name="Shanghai Customs",
        public_key=public_key,
        keys=periods,
    )


def _rotated(revoked_at: datetime | None = None) -> Agency:
    return _customs(
        AgencyKeyPeriod(public_key=OLD.public_key, valid_until=ROTATED, revoked_at=revoked_at),
        AgencyKeyPeriod(public_key=NEW.public_key, valid_from=ROTATED),
        public_key=NEW.public_key,
    )


def _signed(key: AgencyKey, at: datetime) -> Event:
    envelope = envelope_for(goods_detained(CASE_ID), case_id=CASE_ID)
    envelope = envelope.model_copy(update={"time": at})
    return decode_event(*wire(sign_envelope(envelope, key)))


def test_the_key_valid_at_the_signing_time_is_chosen() -> None:
    agency = _rotated()
    before = sender_keys(agency, signed_at=ROTATED - timedelta(seconds=1), stored_at=None)
    after = sender_keys(agency, signed_at=ROTATED, stored_at=None)
    assert before.valid == (OLD.public_key,)
    assert after.valid == (NEW.public_key,)


def test_an_event_signed_before_the_rotation_still_verifies_after_it() -> None:
    event = _signed(OLD, ROTATED - timedelta(hours=1))
    verify_sender(event, _rotated(), stored_at=ROTATED + timedelta(days=30))


def test_the_old_key_signs_nothing_dated_after_the_rotation() -> None:
    event = _signed(OLD, ROTATED + timedelta(hours=1))
    with pytest.raises(EnvelopeRejected) as caught:
        verify_sender(event, _rotated())
    assert caught.value.reason is RejectReason.BAD_SIGNATURE


def test_a_revoked_key_is_refused_from_the_revocation_on_with_the_reason() -> None:
    revoked_at = ROTATED - timedelta(days=2)
    event = _signed(OLD, revoked_at - timedelta(days=1))  # backdated by the thief
    agency = _rotated(revoked_at=revoked_at)
    with pytest.raises(EnvelopeRejected) as caught:
        verify_sender(event, agency, stored_at=revoked_at + timedelta(minutes=1))
    assert caught.value.reason is RejectReason.BAD_SIGNATURE
    assert "revoked at" in caught.value.detail
    # what the stream stored before the revocation still verifies
    verify_sender(event, agency, stored_at=revoked_at - timedelta(minutes=1))


def test_the_legacy_fields_still_work_without_a_history() -> None:
    agency = _customs(public_key=NEW.public_key).model_copy(
        update={"previous_public_key": OLD.public_key}
    )
    keys = sender_keys(agency, signed_at=WHEN, stored_at=None)
    assert set(keys.valid) == {NEW.public_key, OLD.public_key}
    verify_sender(_signed(OLD, WHEN), agency)


def test_a_history_entry_governs_a_key_also_listed_as_public_key() -> None:
    agency = _customs(
        AgencyKeyPeriod(public_key=NEW.public_key, revoked_at=WHEN),
        public_key=NEW.public_key,
    )
    keys = sender_keys(agency, signed_at=WHEN, stored_at=WHEN + timedelta(seconds=1))
    assert keys.valid == ()
    assert keys.revoked == ((NEW.public_key, WHEN),)


def test_the_registry_round_trips_a_key_history() -> None:
    text = f"""
[[agencies]]
id = "coordinator"
kind = "coordinator"
region = "000000"
name = "Coordinator"

[[agencies]]
id = "{CUSTOMS}"
kind = "customs"
region = "310000"
name = "Shanghai Customs"
public_key = "{NEW.public_key}"
[[agencies.keys]]
public_key = "{OLD.public_key}"
valid_until = 2026-03-01T00:00:00+08:00
revoked_at = 2026-03-02T00:00:00Z
[[agencies.keys]]
public_key = "{NEW.public_key}"
valid_from = 2026-03-01T00:00:00+08:00
"""
    registry = parse_registry(text)
    history = registry.get(CUSTOMS).keys
    assert history[0].valid_until == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert history[1].valid_from == history[0].valid_until
    assert parse_registry(dump_registry(registry)) == registry


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="valid_until must be after valid_from"):
        AgencyKeyPeriod(public_key=OLD.public_key, valid_from=WHEN, valid_until=WHEN)
