"""The demo scenario: every linkage the bus carries, played end to end and checked.

1–7: a border seizure (customs' notice, the holder's application and bond, detention; a
second notice left unanswered releases its goods) becomes an administrative penalty,
crosses the criminal threshold and is transferred by rule to the police, filed, prosecuted,
tried and judged. 8–9: a mediation
agreement confirmed by a court. 10–14: a transfer the police sit on goes overdue, is
refused, reconsidered and supervised until the police file. Then a malformed message, a
stranger's query, and the same stranger trying to take the case over with its own key. It
exits 0 only when every expectation holds.
"""

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts.cases import CaseStatus
from contracts.identifiers import new_ulid
from contracts.queries import CaseReply, CaseView
from contracts.referrals import ReferralKind, ReferralState
from contracts.subjects import COORDINATOR, event_subject
from services.cli.demo_authority import play_stranger_attempts
from services.cli.demo_chain import play_criminal_chain
from services.cli.demo_credit import play_assistance, play_credit
from services.cli.demo_evidence import play_evidence
from services.cli.demo_holders import play_holders
from services.cli.demo_linkage import play_mediation, play_overdue_and_supervision
from services.cli.demo_mediation import play_mediation as play_gateway_mediation
from services.cli.demo_oversight import play_oversight
from services.cli.demo_support import (
    STEP_TIMEOUT_S,
    DemoFailed,
    Say,
    Stage,
    TimelineWatcher,
    detention,
)
from services.cli.demo_warnings import play_warnings
from services.runtime.bus import DLQ_REASON_HEADER
from services.runtime.identity import Settings
from services.sdk import Bus, query_case

__all__ = ["DEMO_POLICY", "DemoFailed", "demo_settings", "run_demo"]

CUSTOMS = "customs-shanghai"
STRANGER = "customs-guangdong"
DEMO_POLICY = "demo-policy.toml"

_detention = detention  # the scenario's first detention; integration tests reuse it

COVERED_TYPES = frozenset(
    {
        "case.opened",
        "case.status_changed",
        "case.closed",
        "referral.issued",
        "referral.acknowledged",
        "referral.accepted",
        "referral.declined",
        "referral.concluded",
        "referral.withdrawn",
        "referral.overdue",
        "referral.reconsideration_requested",
        "referral.decline_upheld",
        "referral.supervision_opened",
        "referral.refusal_explained",
        "referral.filing_notified",
        "referral.copied",
        "referral.refused",
        "judgment.rendered",
        "judgment.appealed",
        "judgment.final",
        "confirmation.issued",
        "goods.detained",
        "goods.confiscated",
    }
)
"""Every §5 type of cases, referrals and judicial events, and the linkage types, that the
scenario must put on the shared timelines (``referral.supervision_closed`` is the one
linkage outcome it does not take: in the demo the procuratorate orders filing)."""


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: its policy file (short deadlines) next to the configured one."""
    return settings.model_copy(update={"policy_path": settings.policy_path.with_name(DEMO_POLICY)})


async def run_demo(bus: Bus, say: Say, *, pace: float = 0.0) -> None:
    """Play the scenario on a started bus; raise :class:`DemoFailed` when it goes wrong.

    ``pace`` pauses between steps so a person can follow along.
    """
    nc = await bus.connect(COORDINATOR, name="ipbus-demo")  # reads all, as the hub does
    try:
        stage = Stage(bus, nc, TimelineWatcher(nc, say))
        chain = await play_criminal_chain(stage, say, pace=pace)
        mediation = await play_mediation(stage, say, pace=pace)
        supervised = await play_overdue_and_supervision(stage, say, pace=pace)

        await asyncio.sleep(pace)
        say("\n15. A malformed message is dead-lettered, and the bus carries on")
        sender = await bus.connect(CUSTOMS, name="ipbus-demo-customs")  # may speak as customs
        try:
            reason = await _send_garbage(nc, sender)
        finally:
            await sender.close()
        say(f"   IPBUS_DLQ received it: reason={reason}")

        await asyncio.sleep(pace)
        say("\n16. Need-to-know: an agency not party to the case cannot see it")
        stranger = await _ask_as(bus, STRANGER, chain.case_id)
        party = await _ask_as(bus, CUSTOMS, chain.case_id)
        say(f"   {STRANGER}: {stranger.error}")
        say(f"   {CUSTOMS}: sees {len(party.case.timeline) if party.case else 0} timeline entries")
        await play_stranger_attempts(bus, nc, say, chain.case_id, pace=pace)

        # other scenario parts: one `await play_<topic>(...)` each, above the expectations
        await play_gateway_mediation(bus, say, pace=pace)
        await play_warnings(bus, say, pace=pace)
        await play_oversight(stage, say, pace=pace)
        await play_holders(bus, say, pace=pace)
        await play_credit(stage, say, pace=pace)
        await play_assistance(stage, say, pace=pace)
        await play_evidence(stage, say, pace=pace)

        cases = [await _final(stage, view.case_id) for view in (chain, mediation, supervised)]
        _expect(cases, stranger.case is None, party.case is not None)
        total = sum(len(case.timeline) for case in cases)
        say(
            f"\nAll expectations hold: 3 cases ({', '.join(c.status.value for c in cases)}), "
            f"{sum(len(c.referrals) for c in cases)} referrals, {total} events on shared "
            "timelines."
        )
    finally:
        await nc.close()


async def _final(stage: Stage, case_id: str) -> CaseView:
    """The case once the coordinator has caught up (the last copies may still be in flight)."""
    await asyncio.sleep(0.3)
    reply = await query_case(stage.nc, requester=COORDINATOR, case_id=case_id)
    if reply.case is None:
        raise DemoFailed(f"case {case_id} vanished from the coordinator")
    return reply.case


async def _ask_as(bus: Bus, agency_id: str, case_id: str) -> CaseReply:
    """Ask the coordinator with ``agency_id``'s own connection (the only one it may ask on)."""
    client = await bus.connect(agency_id, name=f"ipbus-demo-{agency_id}")
    try:
        return await query_case(client, requester=agency_id, case_id=case_id)
    finally:
        await client.close()


async def _send_garbage(nc: Client, sender: Client) -> str:
    """Publish a non-event on an event subject as ``sender``; return the DLQ's reason.

    ``nc`` (the hub's connection) watches the dead-letter stream.
    """
    arrived: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
    probe = new_ulid()

    async def on_dead_letter(msg: Msg) -> None:
        if (msg.headers or {}).get("Demo-Probe") == probe and not arrived.done():
            arrived.set_result(msg)

    subscription = await nc.subscribe("ipbus.dlq.>", cb=on_dead_letter)
    await nc.flush()  # the server has the subscription before the letter can come
    try:
        await sender.jetstream().publish(
            event_subject(CUSTOMS, COORDINATOR, probe, "case.opened"),
            b"this is not a CloudEvent",
            headers={"Demo-Probe": probe},
        )
        try:
            msg = await asyncio.wait_for(arrived, STEP_TIMEOUT_S)
        except TimeoutError:
            raise DemoFailed("the malformed message never reached IPBUS_DLQ") from None
        return (msg.headers or {}).get(DLQ_REASON_HEADER, "?")
    finally:
        await subscription.unsubscribe()


def _referrals(case: CaseView) -> dict[ReferralKind, list[ReferralState]]:
    found: dict[ReferralKind, list[ReferralState]] = {}
    for referral in case.referrals:
        found.setdefault(referral.kind, []).append(referral.state)
    return found


def _expect(cases: list[CaseView], stranger_refused: bool, party_sees: bool) -> None:
    chain, mediation, supervised = cases
    problems = []
    expected_status = (CaseStatus.CLOSED, CaseStatus.CLOSED, CaseStatus.FILED)
    for case, status in zip(cases, expected_status, strict=True):
        if case.status is not status:
            problems.append(f"case {case.title!r} is {case.status.value}, expected {status.value}")
    expected_referrals = [
        (
            chain,
            {
                ReferralKind.CUSTOMS_TO_ENFORCEMENT: [
                    ReferralState.WITHDRAWN,
                    ReferralState.CONCLUDED,
                ],
                ReferralKind.ADMIN_TO_CRIMINAL: [ReferralState.CONCLUDED],
            },
        ),
        (mediation, {ReferralKind.MEDIATION_CONFIRMATION: [ReferralState.CONCLUDED]}),
        (supervised, {ReferralKind.CUSTOMS_TO_CRIMINAL: [ReferralState.ACCEPTED]}),
    ]
    for case, wanted in expected_referrals:
        if _referrals(case) != wanted:
            problems.append(f"referrals of {case.title!r} are {_referrals(case)}, not {wanted}")
    statuses = [e.status_after for e in chain.timeline]
    for status in (CaseStatus.PENALIZED, CaseStatus.FILED, CaseStatus.PROSECUTING):
        if status not in statuses:
            problems.append(f"the criminal chain never reached {status.value}")
    if CaseStatus.JUDGED not in statuses or CaseStatus.IN_TRIAL not in statuses:
        problems.append("the criminal chain was never tried and judged")
    overdue = [e for e in supervised.timeline if e.event_type == "referral.overdue"]
    if sorted(e.recipient for e in overdue) != sorted(
        [CUSTOMS, "psb-shanghai", "procuratorate-shanghai"]
    ):
        problems.append(f"overdue notices went to {[e.recipient for e in overdue]}")
    seen = {e.event_type for case in cases for e in case.timeline}
    if missing := COVERED_TYPES - seen:
        problems.append(f"the scenario never showed {sorted(missing)}")
    if not stranger_refused:
        problems.append(f"{STRANGER} could read a case it is not party to")
    if not party_sees:
        problems.append(f"{CUSTOMS} could not read its own case")
    if problems:
        raise DemoFailed("; ".join(problems))
