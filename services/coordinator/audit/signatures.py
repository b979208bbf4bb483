"""Re-checking the audit log's accepted rows against the senders' keys, without the bus.

Each accepted row keeps the signed event as received (``body``): its digest must be the
row's ``digest``, and its signature must verify against the sender's key in the registry an
auditor is given (``<data dir>/agencies.toml``, the keys actually in use).
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from contracts.agencies import Registry
from contracts.envelope import EnvelopeRejected, decode_event
from services.coordinator.audit.chain import AuditEntry, AuditVerdict
from services.runtime.identity import verify_event

__all__ = ["SignatureCheck", "check_signatures"]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """How many accepted rows verified, and the first that did not (with why)."""

    verified: int
    failure: str | None = None


def _row_failure(entry: AuditEntry, registry: Registry) -> str | None:
    if entry.body is None:
        return "keeps no signed event"
    body = entry.body.encode("utf-8")
    if hashlib.sha256(body).hexdigest() != entry.digest:
        return "signed event does not match the row's digest"
    try:
        event = decode_event(body, entry.subject)
    except (EnvelopeRejected, json.JSONDecodeError) as exc:
        return f"signed event does not decode: {exc}"
    if (event.id, event.sender, event.case_id) != (entry.event_id, entry.sender, entry.case_id):
        return "row's event id, sender or case differs from its signed event"
    if event.sender not in registry:
        return f"sender {event.sender} is not in the registry"
    sender = registry.get(event.sender)
    try:
        verify_event(event, [k for k in (sender.public_key, sender.previous_public_key) if k])
    except EnvelopeRejected as exc:
        return exc.detail
    return None


def check_signatures(entries: Iterable[AuditEntry], registry: Registry) -> SignatureCheck:
    """Verify every accepted row's signature; stop at the first that fails."""
    verified = 0
    for entry in entries:
        if entry.verdict is not AuditVerdict.ACCEPTED:
            continue
        failure = _row_failure(entry, registry)
        if failure is not None:
            return SignatureCheck(verified, f"row {entry.seq} ({entry.ref}): {failure}")
        verified += 1
    return SignatureCheck(verified)
