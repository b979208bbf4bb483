"""What the coordinator writes to its audit log when the runtime accepts or refuses a message."""

import hashlib
from datetime import datetime

from nats.aio.msg import Msg
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.canonical import canonical_json
from contracts.envelope import Event, RejectReason
from services.coordinator.audit_store import accepted_entry, append_audit, rejected_entry

__all__ = ["audit_accepted", "audit_rejected"]


async def audit_accepted(session: AsyncSession, event: Event, now: datetime) -> None:
    """Chain an accepted event (new: the inbox just claimed it); digest covers the signature."""
    digest = hashlib.sha256(canonical_json(event.raw)).hexdigest()
    await append_audit(session, accepted_entry(event, digest, now), known_new=True)


async def audit_rejected(
    session: AsyncSession,
    msg: Msg,
    consumer: str,
    reason: RejectReason,
    detail: str,
    now: datetime,
) -> None:
    """Chain a refused message, once per stream position (a redelivery is not a new fact)."""
    stream_seq = msg.metadata.sequence.stream if msg.reply else 0
    ref = f"msg:{consumer}:{stream_seq}" if stream_seq else f"msg:{consumer}:{now.isoformat()}"
    await append_audit(
        session,
        rejected_entry(
            subject=msg.subject, body=msg.data, ref=ref, reason=reason.value, detail=detail, now=now
        ),
    )
