"""Anchors of the audit chain, outside the coordinator's database (SECURITY.md).

The coordinator signs its chain head (rows, head hash, time) with its nkey and publishes it
on ``ipbus.audit.anchor`` to the ``IPBUS_AUDIT_ANCHORS`` stream: JetStream refuses to delete
or purge from it (``deny_delete``, ``deny_purge``, fixed once set) and the generated NATS
permissions give nobody ``STREAM.DELETE`` and no one but the coordinator the subject. So
whoever can rewrite the coordinator's tables still cannot move the anchors, and a chain cut
short or rewritten with fresh hashes no longer matches the latest one.
"""

import base64
import binascii
from collections.abc import Callable, Iterable

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts.subjects import AUDIT_ANCHOR_STREAM, AUDIT_ANCHOR_SUBJECT
from services.coordinator.audit.chain import AuditAnchor
from services.coordinator.audit.store import audit_head
from services.runtime.bus import Clock
from services.runtime.identity import AgencyKey, public_key_bytes
from services.runtime.ops import AgencyMetrics, Logger, PeriodicTask
from services.runtime.storage import Database

__all__ = [
    "AnchorPublisher",
    "anchor_signed_by",
    "anchor_stream_config",
    "ensure_anchor_stream",
    "latest_anchor",
    "sign_anchor",
]


def anchor_stream_config(replicas: int = 1) -> StreamConfig:
    """No limits, no deletes, no purges, no roll-ups: anchors only ever accumulate."""
    return StreamConfig(
        name=AUDIT_ANCHOR_STREAM,
        subjects=[AUDIT_ANCHOR_SUBJECT],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.NEW,  # were limits ever set: refuse new, never drop old
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        num_replicas=replicas,
    )


async def ensure_anchor_stream(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the anchor stream once; an existing one is left as it is."""
    try:
        await js.stream_info(AUDIT_ANCHOR_STREAM)
    except NotFoundError:
        await js.add_stream(anchor_stream_config(replicas))


def sign_anchor(key: AgencyKey, *, agency: str, rows: int, head: str, time: str) -> AuditAnchor:
    unsigned = AuditAnchor(agency=agency, rows=rows, head=head, time=time)
    return AuditAnchor(
        agency=agency, rows=rows, head=head, time=time, signature=key.sign(unsigned.signed_bytes())
    )


def anchor_signed_by(anchor: AuditAnchor, public_keys: Iterable[str]) -> bool:
    """Whether one of ``public_keys`` (the coordinator's, from the registry) signed it."""
    try:
        signature = base64.urlsafe_b64decode(anchor.signature + "=" * (-len(anchor.signature) % 4))
    except (binascii.Error, ValueError):
        return False
    for public_key in public_keys:
        try:
            VerifyKey(public_key_bytes(public_key)).verify(anchor.signed_bytes(), signature)
        except (BadSignatureError, ValueError):
            continue
        return True
    return False


async def latest_anchor(js: JetStreamContext) -> AuditAnchor | None:
    """The newest anchor on the bus, or None if none was ever published."""
    try:
        msg = await js.get_last_msg(AUDIT_ANCHOR_STREAM, AUDIT_ANCHOR_SUBJECT)
    except NotFoundError:
        return None
    return AuditAnchor.from_json(msg.data or b"{}")


class AnchorPublisher:
    """Publishes the signed head every ``interval_s`` when it moved, and when asked (stop)."""

    def __init__(
        self,
        database: Database,
        js: Callable[[], JetStreamContext],
        key: AgencyKey,
        agency_id: str,
        clock: Clock,
        log: Logger,
        *,
        interval_s: float,
        metrics: AgencyMetrics | None = None,
    ) -> None:
        self._database = database
        self._js = js
        self._key = key
        self._agency_id = agency_id
        self._clock = clock
        self._log = log
        self._published: tuple[int, str] | None = None
        self.loop = PeriodicTask(  # NATS or the database down: logged, tried next round
            self._publish_if_moved,
            log,
            interval_s=interval_s,
            name="audit-anchors",
            metrics=metrics,
        )

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    async def _publish_if_moved(self) -> None:
        await self.publish(only_if_moved=True)

    async def publish(self, *, only_if_moved: bool = False) -> AuditAnchor | None:
        """Sign and publish the current head; None if unchanged and ``only_if_moved``."""
        async with self._database.transaction() as session:
            rows, head = await audit_head(session)
        if only_if_moved and self._published == (rows, head):
            return None
        anchor = sign_anchor(
            self._key,
            agency=self._agency_id,
            rows=rows,
            head=head,
            time=self._clock.now().isoformat(),
        )
        await self._js().publish(
            AUDIT_ANCHOR_SUBJECT,
            anchor.to_json(),
            stream=AUDIT_ANCHOR_STREAM,
            headers={"Content-Type": "application/json"},
        )
        self._published = (rows, head)
        self._log.info("audit anchor published", rows=rows, head=head)
        return anchor
