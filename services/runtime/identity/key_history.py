"""Which of an agency's keys may have signed an event (registry ``[[agencies.keys]]``).

A key is *valid* for an event signed at ``signed_at`` (the event's ``time``) when that
instant lies in the key's validity period, so events signed before a rotation still verify
after it. A key *revoked* at R verifies nothing the stream stored from R on (the stream's
clock, not the claimed ``time``, which the key's thief could backdate); the refusal names
the revocation.
"""

from dataclasses import dataclass
from datetime import datetime

from contracts.agencies import Agency, AgencyKeyPeriod
from contracts.envelope import EnvelopeRejected, Event, RejectReason
from services.runtime.identity.signing import verify_event

__all__ = ["SenderKeys", "sender_keys", "verify_sender"]


@dataclass(frozen=True, slots=True)
class SenderKeys:
    valid: tuple[str, ...]
    revoked: tuple[tuple[str, datetime], ...]
    """Keys that would have been valid but were revoked before the event was stored."""


def _in_period(period: AgencyKeyPeriod, at: datetime) -> bool:
    if period.valid_from is not None and at < period.valid_from:
        return False
    return period.valid_until is None or at < period.valid_until


def sender_keys(agency: Agency, *, signed_at: datetime, stored_at: datetime | None) -> SenderKeys:
    """The keys that may verify an event of ``agency`` signed at ``signed_at``.

    ``stored_at`` (the stream's timestamp) decides revocation; without one (an event not
    read from the stream) the signing time does.
    """
    seen_at = stored_at or signed_at
    history = {period.public_key: period for period in agency.keys}
    valid: list[str] = []
    revoked: list[tuple[str, datetime]] = []
    for period in agency.keys:
        if not _in_period(period, signed_at):
            continue
        if period.revoked_at is not None and seen_at >= period.revoked_at:
            revoked.append((period.public_key, period.revoked_at))
        else:
            valid.append(period.public_key)
    for legacy in (agency.public_key, agency.previous_public_key):
        if legacy is None or legacy in valid or legacy in history:
            continue  # a key the history lists is governed by its period
        valid.append(legacy)
    return SenderKeys(tuple(valid), tuple(revoked))


def verify_sender(event: Event, agency: Agency, *, stored_at: datetime | None = None) -> None:
    """Raise :class:`EnvelopeRejected` unless a key of ``agency`` valid for ``event`` signed it."""
    keys = sender_keys(agency, signed_at=event.envelope.time, stored_at=stored_at)
    try:
        verify_event(event, keys.valid)
    except EnvelopeRejected as refused:
        for key, revoked_at in keys.revoked:
            try:
                verify_event(event, (key,))
            except EnvelopeRejected:
                continue
            raise EnvelopeRejected(
                RejectReason.BAD_SIGNATURE,
                f"event {event.envelope.id} is signed with {agency.id}'s key {key[:10]}…, "
                f"revoked at {revoked_at.isoformat()}",
            ) from refused
        raise
