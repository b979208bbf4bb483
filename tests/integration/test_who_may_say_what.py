"""Who may say what (DESIGN §4a) on the real bus: a valid signature is not a licence.

A registered agency of another province, signing with its own key, learns a case id and
tries to join the case, change its status, and send what only the coordinator or a court
may send. Each attempt is dead-lettered by the coordinator with ``not_a_party`` or
``not_permitted``, audited, counted; the case keeps its parties and status, and the
stranger's query still gets "not found". Honest traffic after the attempts is applied.
"""

from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import RawStreamMsg

from contracts.agencies import AgencyKind, WarningCategory
from contracts.base import Payload
from contracts.cases import CaseOpened, CaseStatus, CaseStatusChanged
from contracts.envelope import Envelope, publish_subject
from contracts.judicial import JudgmentRendered
from contracts.queries import CaseView
from contracts.referrals import (
    ReferralAccepted,
    ReferralKind,
    ReferralOverdue,
    ReferralStage,
    ReferralState,
)
from contracts.warnings import Severity, WarningDelivered, WarningIssued, WarningTargets
from services.cli.audit import load_entries
from services.cli.demo import _detention
from services.coordinator.audit.chain import AuditVerdict
from services.customs.app import CustomsService
from services.runtime.bus import DLQ_CONSUMER_HEADER, DLQ_DETAIL_HEADER, DLQ_REASON_HEADER
from services.runtime.identity import Settings
from services.sdk import Bus, query_case
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

STRANGER = "customs-guangdong"
OTHER_COURT = "court-guangzhou-ip"
CUSTOMS = "customs-shanghai"
AMR = "amr-shanghai"


async def _referred_case(bus: Bus) -> tuple[str, str]:
    customs = bus.services[CUSTOMS]
    assert isinstance(customs, CustomsService)
    async with customs.unit_of_work() as uow:
        detention = await customs.detain_goods(uow, _detention())
        referral = await customs.issue_referral(
            uow,
            case_id=detention.case_id,
            to=AMR,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="trademark infringement",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="1,200 pairs of shoes",
        )
    return detention.case_id, referral.referral_id


async def _settled(nc: Client, case_id: str) -> CaseView:
    """The case once the regulator's receipt is on it (so nothing honest is in flight)."""
    seen: list[CaseView] = []

    async def acknowledged() -> bool:
        reply = await query_case(nc, requester="coordinator", case_id=case_id)
        case = reply.case
        if case is None or [r.state for r in case.referrals] != [ReferralState.ACKNOWLEDGED]:
            return False
        seen.append(case)
        return True

    await wait_until(acknowledged, what="the acknowledgement on the shared case")
    return seen[-1]


def _forged_warning() -> WarningDelivered:
    warning = WarningIssued(
        warning_id="01JABCDEFGHJKMNPQRSTVWXYZ9",
        category=WarningCategory.COUNTERFEIT_ROUTE,
        severity=Severity.CRITICAL,
        title="Forged",
        body="Release every container without inspection.",
        targets=WarningTargets(kinds=[AgencyKind.CUSTOMS]),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    return WarningDelivered(warning_id=warning.warning_id, warning=warning)


def _attempts(case_id: str, referral_id: str) -> list[tuple[str, str, Payload, str]]:
    """(sender, recipient, payload, the coordinator's reason)."""
    now = datetime.now(UTC)
    return [
        (
            STRANGER,
            "coordinator",
            CaseStatusChanged(local_ref="GD-1", status=CaseStatus.DECLINED, note="ours"),
            "not_a_party",
        ),
        (
            STRANGER,
            "coordinator",
            CaseOpened(
                local_ref="GD-1", title="ours", ip_rights=[], parties=[], goods=[], opened_at=now
            ),
            "not_a_party",
        ),
        (
            STRANGER,
            "coordinator",
            ReferralOverdue(
                referral_id=referral_id, case_id=case_id, stage=ReferralStage.DECIDE, due_at=now
            ),
            "not_permitted",
        ),
        (STRANGER, "coordinator", _forged_warning(), "not_permitted"),
        (
            STRANGER,
            "coordinator",
            JudgmentRendered(case_id=case_id, court_ref="GD-X", verdict="acquit", rendered_at=now),
            "not_permitted",
        ),
        # a court may render judgments, but not on a case it is no party to
        (
            OTHER_COURT,
            "coordinator",
            JudgmentRendered(case_id=case_id, court_ref="GD-Y", verdict="acquit", rendered_at=now),
            "not_a_party",
        ),
        # a party, with the right key, taking the other end's step of its own referral
        (
            CUSTOMS,
            AMR,
            ReferralAccepted(referral_id=referral_id, local_ref="SH-X"),
            "not_permitted",
        ),
    ]


def _coordinator_letters(letters: list[RawStreamMsg]) -> dict[str, dict[str, str]]:
    """The coordinator's dead letters, keyed by the id of the event it refused."""
    found: dict[str, dict[str, str]] = {}
    for letter in letters:
        headers = letter.headers or {}
        if headers.get(DLQ_CONSUMER_HEADER) != "coordinator":
            continue
        event_id = Envelope.model_validate_json(letter.data or b"").id
        found[event_id] = headers
    return found


def _unauthorised(bus: Bus, reason: str) -> float:
    families = bus.services["coordinator"].metrics.families
    value = families.registry.get_sample_value(
        "ipbus_unauthorised_events_total", {"reason": reason}
    )
    return value or 0.0


@pytest.mark.timeout(120)
async def test_a_stranger_with_its_own_key_cannot_join_steer_or_forge(
    bus: Bus, settings: Settings
) -> None:
    case_id, referral_id = await _referred_case(bus)
    nc = await nats.connect(bus.nats_url)
    try:
        before = await _settled(nc, case_id)
        attempts = _attempts(case_id, referral_id)
        sent: dict[str, str] = {}
        for sender, recipient, payload, reason in attempts:
            envelope = signed(settings, sender, payload, case_id=case_id)
            subject = publish_subject(envelope, recipient)
            await publish(nc, subject, envelope)
            sent[envelope.id] = reason

        async def all_refused() -> bool:
            letters = await dead_letters(nc, at_least=1)
            return sent.keys() <= _coordinator_letters(letters).keys()

        await wait_until(all_refused, what="every forged event in IPBUS_DLQ")
        letters = _coordinator_letters(await dead_letters(nc, at_least=len(sent)))
        assert {i: letters[i][DLQ_REASON_HEADER] for i in sent} == sent

        after = (await query_case(nc, requester="coordinator", case_id=case_id)).case
        assert after is not None
        assert after.status is before.status
        assert {p.agency_id for p in after.parties} == {p.agency_id for p in before.parties}
        assert STRANGER not in {p.agency_id for p in after.parties}
        assert OTHER_COURT not in {p.agency_id for p in after.parties}
        assert not {e.event_id for e in after.timeline} & sent.keys()
        assert after.referrals[0].state is ReferralState.ACKNOWLEDGED

        for asker in (STRANGER, OTHER_COURT):
            own = await nats.connect(bus.nats_url)
            try:
                reply = await query_case(own, requester=asker, case_id=case_id)
            finally:
                await own.close()
            assert reply.case is None
            assert reply.error == "case not found, or not shared with you"

        # every refusal is a row of the audit chain with its reason, and counted
        rejected = {
            e.event_id: e.reason
            for e in await load_entries(settings)
            if e.verdict is AuditVerdict.REJECTED
        }
        assert {i: rejected.get(i) for i in sent} == sent
        assert _unauthorised(bus, "not_a_party") == 3
        assert _unauthorised(bus, "not_permitted") == 4

        # and the bus carries on: the opener's next word is applied
        honest = signed(
            settings,
            CUSTOMS,
            CaseStatusChanged(local_ref="SH-1", status=CaseStatus.INVESTIGATING),
            case_id=case_id,
        )
        await publish(nc, publish_subject(honest, "coordinator"), honest)

        async def applied() -> bool:
            reply = await query_case(nc, requester=CUSTOMS, case_id=case_id)
            return reply.case is not None and reply.case.status is CaseStatus.INVESTIGATING

        await wait_until(applied, what="the opener's status change")
    finally:
        await nc.close()


async def test_a_case_event_that_names_no_case_is_refused(bus: Bus, settings: Settings) -> None:
    nc = await nats.connect(bus.nats_url)
    try:
        orphan = signed(
            settings, STRANGER, CaseStatusChanged(local_ref="GD-2", status=CaseStatus.CLOSED)
        )
        await publish(nc, publish_subject(orphan, "coordinator"), orphan)
        never_opened = signed(
            settings,
            STRANGER,
            CaseStatusChanged(local_ref="GD-3", status=CaseStatus.CLOSED),
            case_id="01JABCDEFGHJKMNPQRSTVWXYZ2",
        )
        await publish(nc, publish_subject(never_opened, "coordinator"), never_opened)

        async def both() -> bool:
            letters = _coordinator_letters(await dead_letters(nc, at_least=1))
            return {orphan.id, never_opened.id} <= letters.keys()

        await wait_until(both, what="both orphans in IPBUS_DLQ")
        letters = _coordinator_letters(await dead_letters(nc, at_least=2))
        assert letters[orphan.id][DLQ_REASON_HEADER] == "not_a_party"
        assert "names no case" in letters[orphan.id][DLQ_DETAIL_HEADER]
        assert letters[never_opened.id][DLQ_REASON_HEADER] == "not_a_party"
        assert "only case.opened starts a case" in letters[never_opened.id][DLQ_DETAIL_HEADER]
        reply = await query_case(nc, requester="coordinator", case_id="01JABCDEFGHJKMNPQRSTVWXYZ2")
        assert reply.case is None
    finally:
        await nc.close()


async def test_an_agency_refuses_the_coordinators_notices_from_anyone_else(
    bus: Bus, settings: Settings
) -> None:
    case_id, referral_id = await _referred_case(bus)
    nc = await nats.connect(bus.nats_url)
    try:
        await _settled(nc, case_id)
        overdue = signed(
            settings,
            STRANGER,
            ReferralOverdue(
                referral_id=referral_id,
                case_id=case_id,
                stage=ReferralStage.ACKNOWLEDGE,
                due_at=datetime.now(UTC),
            ),
            case_id=case_id,
        )
        delivered = signed(settings, STRANGER, _forged_warning())
        await publish(nc, publish_subject(overdue, CUSTOMS), overdue)
        await publish(nc, publish_subject(delivered, CUSTOMS), delivered)

        wanted = {
            (consumer, event_id)
            for consumer in ("coordinator", f"agency-{CUSTOMS}")
            for event_id in (overdue.id, delivered.id)
        }

        async def refused_by_both() -> bool:
            letters = await dead_letters(nc, at_least=1)
            return wanted <= {
                (m.headers[DLQ_CONSUMER_HEADER], Envelope.model_validate_json(m.data or b"").id)
                for m in letters
                if m.headers
            }

        await wait_until(refused_by_both, what="the coordinator and customs to refuse both")
        for letter in await dead_letters(nc, at_least=len(wanted)):
            assert letter.headers is not None
            assert letter.headers[DLQ_REASON_HEADER] == "not_permitted"
    finally:
        await nc.close()
