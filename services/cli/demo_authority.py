"""Demo part: who may say what (DESIGN §4a). A signature proves who spoke, not that they may.

A registered agency of another province learns a case id. With its own key, on its own
connection, it tries to join the case, to change its shared status, to forge the
coordinator's notices and a court's judgment. The coordinator refuses every one of them to
``IPBUS_DLQ`` (``not_a_party`` or ``not_permitted``); the case is unchanged and the stranger
still gets "not found" when it asks.
"""

import asyncio
import json
from datetime import datetime, timedelta

from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts.agencies import AgencyKind, WarningCategory
from contracts.base import Payload
from contracts.cases import CaseOpened, CaseStatus, CaseStatusChanged
from contracts.identifiers import new_ulid
from contracts.judicial import JudgmentRendered
from contracts.queries import CaseView
from contracts.referrals import ReferralOverdue, ReferralStage
from contracts.subjects import COORDINATOR
from contracts.warnings import Severity, WarningDelivered, WarningIssued, WarningTargets
from services.cli.demo_support import STEP_TIMEOUT_S, DemoFailed, Say, pause
from services.runtime.bus import DLQ_CONSUMER_HEADER, DLQ_REASON_HEADER
from services.sdk import Bus, query_case

__all__ = ["STRANGER", "forged_attempts", "play_stranger_attempts"]

STRANGER = "customs-guangdong"
"""Registered, with its own key, in another province (440000): party to no Shanghai case."""


def forged_attempts(view: CaseView, now: datetime) -> list[tuple[str, Payload, str]]:
    """What the stranger tries on ``view``: (what a person reads, payload, expected reason)."""
    referral_id = view.referrals[0].referral_id if view.referrals else new_ulid()
    warning = WarningIssued(
        warning_id=new_ulid(),
        category=WarningCategory.COUNTERFEIT_ROUTE,
        severity=Severity.CRITICAL,
        title="Forged warning",
        body="Release every container from Guangdong without inspection.",
        targets=WarningTargets(kinds=[AgencyKind.CUSTOMS]),
        expires_at=now + timedelta(days=1),
    )
    return [
        (
            "joins the case (case.opened on its id)",
            CaseOpened(
                local_ref="GD-GUAN-2026-0099",
                title="ours now",
                ip_rights=[],
                parties=[],
                goods=[],
                opened_at=now,
            ),
            "not_a_party",
        ),
        (
            "changes its shared status to declined",
            CaseStatusChanged(
                local_ref="GD-GUAN-2026-0099", status=CaseStatus.DECLINED, note="dropped"
            ),
            "not_a_party",
        ),
        (
            "forges the coordinator's referral.overdue",
            ReferralOverdue(
                referral_id=referral_id,
                case_id=view.case_id,
                stage=ReferralStage.DECIDE,
                due_at=now,
            ),
            "not_permitted",
        ),
        (
            "forges the coordinator's warning.delivered",
            WarningDelivered(warning_id=warning.warning_id, warning=warning),
            "not_permitted",
        ),
        (
            "renders a judgment, though it is no court",
            JudgmentRendered(
                case_id=view.case_id,
                court_ref="(2026)YUE-FAKE-1",
                verdict="acquitted",
                rendered_at=now,
            ),
            "not_permitted",
        ),
    ]


class _DeadLetterWatch:
    """The coordinator's dead letters for a set of event ids, as they arrive."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def on_letter(self, msg: Msg) -> None:
        headers = msg.headers or {}
        if headers.get(DLQ_CONSUMER_HEADER) != COORDINATOR:
            return
        try:
            event_id = json.loads(msg.data).get("id")
        except (ValueError, AttributeError):
            return
        if isinstance(event_id, str):
            self.reasons[event_id] = headers.get(DLQ_REASON_HEADER, "?")
            self.changed.set()

    async def wait_for(self, event_ids: set[str]) -> dict[str, str]:
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT_S
        while not event_ids <= self.reasons.keys():
            self.changed.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                missing = len(event_ids - self.reasons.keys())
                raise DemoFailed(f"{missing} forged events never reached IPBUS_DLQ")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                continue
        return {i: self.reasons[i] for i in event_ids}


def _state(view: CaseView) -> tuple[CaseStatus, list[str], int]:
    return view.status, sorted(p.agency_id for p in view.parties), len(view.timeline)


async def play_stranger_attempts(
    bus: Bus, nc: Client, say: Say, case_id: str, *, pace: float = 0.0
) -> None:
    """The stranger's attempts on ``case_id``; raise :class:`DemoFailed` if one gets through.

    ``nc`` is the hub's connection: it reads the case and watches the dead-letter stream.
    """
    await pause(pace)
    say(f"\n17. Who may say what: {STRANGER}, with its own key, tries to take the case over")
    before = (await query_case(nc, requester=COORDINATOR, case_id=case_id)).case
    if before is None:
        raise DemoFailed(f"case {case_id} vanished from the coordinator")
    stranger = bus.services.get(STRANGER)
    if stranger is None:
        raise DemoFailed(f"{STRANGER} is not running")
    watch = _DeadLetterWatch()
    subscription = await nc.subscribe("ipbus.dlq.>", cb=watch.on_letter)
    await nc.flush()  # the server has the subscription before the letter can come
    try:
        attempts = forged_attempts(before, stranger.clock.now())
        sent: list[tuple[str, str, str]] = []
        async with stranger.unit_of_work() as uow:
            for what, payload, expected in attempts:
                envelope = uow.emit(payload, to=COORDINATOR, case_id=case_id)
                sent.append((envelope.id, what, expected))
        reasons = await watch.wait_for({event_id for event_id, _, _ in sent})
    finally:
        await subscription.unsubscribe()
    wrong = []
    for event_id, what, expected in sent:
        say(f"   {STRANGER} {what}: refused → IPBUS_DLQ, {reasons[event_id]}")
        if reasons[event_id] != expected:
            wrong.append(f"{what}: {reasons[event_id]}, expected {expected}")
    if wrong:
        raise DemoFailed("; ".join(wrong))
    after = (await query_case(nc, requester=COORDINATOR, case_id=case_id)).case
    if after is None or _state(after) != _state(before):
        raise DemoFailed(f"the stranger's attempts changed case {case_id}")
    status, parties, entries = _state(after)
    say(
        f"   the case is unchanged: {status.value}, {entries} timeline entries, the same "
        f"{len(parties)} parties ({STRANGER} not among them)"
    )
    asked = await _ask_as(bus, STRANGER, case_id)
    if asked is not None:
        raise DemoFailed(f"{STRANGER} can read case {case_id} after its attempts")
    say(f"   {STRANGER} asks for the case: not found")


async def _ask_as(bus: Bus, agency_id: str, case_id: str) -> CaseView | None:
    client = await bus.connect(agency_id, name=f"ipbus-demo-{agency_id}-asks")
    try:
        return (await query_case(client, requester=agency_id, case_id=case_id)).case
    finally:
        await client.close()
