"""What the coordinator writes to its audit log when the runtime accepts or refuses a message."""

import hashlib
from datetime import datetime

from nats.aio.msg import Msg
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import Event, RejectReason
from services.coordinator.audit.store import (
    accepted_entry,
    append_audit,
    query_entry,
    rejected_entry,
)

__all__ = ["audit_accepted", "audit_query", "audit_rejected"]


async def audit_accepted(session: AsyncSession, event: Event, now: datetime) -> None:
    """Chain an accepted event (new: the inbox just claimed it), keeping the signed event."""
    signed = event.canonical_bytes  # computed once, when the event was decoded
    digest = hashlib.sha256(signed).hexdigest()
    await append_audit(
        session, accepted_entry(event, digest, now, signed.decode("utf-8")), known_new=True
    )


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


async def audit_query(
    session: AsyncSession,
    msg: Msg,
    *,
    requester: str,
    case_id: str | None,
    answered: bool,
    detail: str,
    now: datetime,
) -> None:
    """Chain who asked about which case, whether it was shown, in the answer's transaction."""
    await append_audit(
        session,
        query_entry(
            subject=msg.subject,
            requester=requester,
            body=msg.data,
            case_id=case_id,
            answered=answered,
            detail=detail,
            now=now,
        ),
        known_new=True,
    )
