"""Outcomes on the real bus (issue 19): a judgment appealed and made final, a decision not to
prosecute, a case cancelled — each through the desks, each moving the shared status, and each
refused (to the DLQ, with its reason) when the wrong agency says it or says it out of order."""

from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client
from sqlmodel import select

from contracts.base import Payload
from contracts.cases import CaseCancelled, CaseStatus, CaseStatusChanged
from contracts.envelope import Envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.judicial import AppealedBy, JudgmentAppealed, JudgmentFinal, ProsecutionDeclined
from contracts.queries import CaseView
from contracts.referrals import ReferralKind, ReferralState
from services.coordinator.deadlines.store import OPEN_STATUSES, DeadlineRecord
from services.judicial.app import JudicialService
from services.runtime.bus import (
    DLQ_CONSUMER_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_REASON_HEADER,
    StepRefused,
)
from services.runtime.identity import Settings
from services.sdk import AgencyAdapter, Bus, ReferralRecord, query_case
from tests.integration.conftest import StartBus
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

AMR = "amr-shanghai"
PSB = "psb-shanghai"
PROCURATORATE = "procuratorate-shanghai"
COURT = "court-shanghai-ip"
AGENCIES = ("coordinator", AMR, PSB, PROCURATORATE, COURT)
FIRST = "(2026)沪73刑初1号"
SECOND = "(2026)沪刑终1号"


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, AGENCIES)


async def shared(nc: Client, case_id: str, requester: str = "coordinator") -> CaseView | None:
    return (await query_case(nc, requester=requester, case_id=case_id)).case


async def until_status(nc: Client, case_id: str, status: CaseStatus, last_type: str) -> CaseView:
    """The shared case once ``last_type`` is on its timeline with ``status`` after it."""
    seen: list[CaseView] = []

    async def reached() -> bool:
        case = await shared(nc, case_id)
        if case is None or not any(e.event_type == last_type for e in case.timeline):
            return False
        seen.append(case)
        return case.status is status

    await wait_until(reached, what=f"case {case_id} {status.value} after {last_type}")
    return seen[-1]


async def transferred_and_filed(bus: Bus) -> tuple[str, str]:
    """A regulator's case transferred to public security and filed there (the procuratorate
    supervises it, so it is a party): the case id and the referral id."""
    amr, psb = bus.service_as(AMR, AgencyAdapter), bus.service_as(PSB, JudicialService)
    case_id = new_ulid()
    async with amr.unit_of_work() as uow:
        await amr.open_case(uow, case_id=case_id, local_ref="沪市监〔2026〕9号", title="Fakes")
        referral = await amr.issue_referral(
            uow,
            case_id=case_id,
            to=PSB,
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason="volume above the criminal threshold",
            legal_basis="Decree 310 art. 3",
            summary="12,000 counterfeit labels",
        )

    async def received() -> bool:
        async with psb.database.transaction() as session:
            record = await session.get(ReferralRecord, referral.referral_id)
        return record is not None and record.state == ReferralState.ACKNOWLEDGED.value

    await wait_until(received, what="the police to receive and acknowledge the transfer")
    async with psb.unit_of_work() as uow:
        await psb.file_case(uow, referral.referral_id, local_ref="沪公刑〔2026〕3号", title="Fakes")
    return case_id, referral.referral_id


async def refused(
    nc: Client, settings: Settings, sender: str, payload: Payload, case_id: str
) -> tuple[str, str]:
    """Publish ``payload`` signed by ``sender`` to the coordinator; its dead letter's reason
    and detail."""
    envelope = signed(settings, sender, payload, case_id=case_id)
    await publish(nc, publish_subject(envelope, "coordinator"), envelope)
    found: dict[str, tuple[str, str]] = {}

    async def lettered() -> bool:
        for letter in await dead_letters(nc, at_least=1):
            headers = letter.headers or {}
            if headers.get(DLQ_CONSUMER_HEADER) != "coordinator":
                continue
            if Envelope.model_validate_json(letter.data or b"").id == envelope.id:
                found[envelope.id] = (headers[DLQ_REASON_HEADER], headers[DLQ_DETAIL_HEADER])
        return envelope.id in found

    await wait_until(lettered, what=f"{payload.event_type} from {sender} in IPBUS_DLQ")
    return found[envelope.id]


async def open_deadlines(bus: Bus, case_id: str) -> list[DeadlineRecord]:
    async with bus.services["coordinator"].database.transaction() as session:
        rows = await session.exec(select(DeadlineRecord).where(DeadlineRecord.case_id == case_id))
        return [row for row in rows.all() if row.status in OPEN_STATUSES]


@pytest.mark.timeout(120)
async def test_a_judgment_is_appealed_then_final(bus: Bus, settings: Settings) -> None:
    case_id, _ = await transferred_and_filed(bus)
    procuratorate, court = (
        bus.service_as(PROCURATORATE, JudicialService),
        bus.service_as(COURT, JudicialService),
    )
    nc = await nats.connect(bus.nats_url)
    try:
        await until_status(nc, case_id, CaseStatus.FILED, "referral.accepted")
        async with procuratorate.unit_of_work() as uow:
            await procuratorate.prosecute(
                uow, case_id, local_ref="沪检刑诉〔2026〕5号", title="Fakes", court=COURT
            )
        await until_status(nc, case_id, CaseStatus.PROSECUTING, "case.status_changed")

        # only a court says a case is judged: the regulator's desk refuses to send it, and
        # the same change signed by the regulator's own system is dead-lettered by the bus
        regulator = bus.services[AMR]
        assert isinstance(regulator, AgencyAdapter)
        with pytest.raises(StepRefused, match="only a court says a case is judged"):
            async with regulator.unit_of_work() as uow:
                await regulator.change_case_status(uow, case_id, CaseStatus.JUDGED)
        record = await _local_ref(regulator, case_id)
        claimed = CaseStatusChanged(local_ref=record, status=CaseStatus.JUDGED, note="done")
        reason, detail = await refused(nc, settings, AMR, claimed, case_id)
        assert (reason, "only a court says a case is judged" in detail) == ("not_permitted", True)

        # the police hand the seller's side back to the regulator: that referral's clocks run
        psb = bus.service_as(PSB, JudicialService)
        async with psb.unit_of_work() as uow:
            await psb.return_non_criminal(
                uow, case_id, reason="the seller's part is not criminal", summary="the seller"
            )

        async def a_clock_runs() -> bool:
            return bool(await open_deadlines(bus, case_id))

        await wait_until(a_clock_runs, what="a deadline running on the case")

        # an appeal before any judgment is out of order: refused, the case unchanged
        early = JudgmentAppealed(
            case_id=case_id,
            court_ref=FIRST,
            appealed_by=AppealedBy.DEFENDANT,
            appealed_at=datetime.now(UTC),
        )
        reason, detail = await refused(nc, settings, COURT, early, case_id)
        assert reason == "illegal_step"
        assert "no judgment has been rendered" in detail

        async with court.unit_of_work() as uow:
            await court.render_judgment(uow, case_id, court_ref=FIRST, verdict="guilty")
        await until_status(nc, case_id, CaseStatus.JUDGED, "judgment.rendered")

        # the judgment stands, but a procuratorate protests in its own name only: an appeal
        # it signs as the defendant's is refused by the bus, not only by its own desk
        in_another_name = early.model_copy(update={"appealed_at": datetime.now(UTC)})
        reason, detail = await refused(nc, settings, PROCURATORATE, in_another_name, case_id)
        assert (reason, "in its own name" in detail) == ("not_permitted", True)

        async with court.unit_of_work() as uow:
            await court.challenge_judgment(
                uow, case_id, court_ref=FIRST, appealed_by=AppealedBy.DEFENDANT
            )
        appealed = await until_status(nc, case_id, CaseStatus.IN_TRIAL, "judgment.appealed")
        assert appealed.timeline[-1].status_after is CaseStatus.IN_TRIAL

        async with court.unit_of_work() as uow:
            await court.judgment_final(uow, case_id, court_ref=SECOND, verdict="appeal dismissed")
        final = await until_status(nc, case_id, CaseStatus.JUDGED, "judgment.final")
        assert final.status is CaseStatus.JUDGED
        assert [e.status_after for e in final.timeline if e.event_type.startswith("judgment.")] == [
            CaseStatus.JUDGED,
            CaseStatus.IN_TRIAL,
            CaseStatus.JUDGED,
        ]
        assert [e.event_type for e in final.timeline if e.event_type.startswith("judgment.")] == [
            "judgment.rendered",
            "judgment.appealed",
            "judgment.final",
        ]  # the early appeal left no line
        # a final judgment ends the case's criminal linkage: nothing is watched on it any more
        assert await open_deadlines(bus, case_id) == []
        # and it is final: neither appealed nor made final again
        again = JudgmentFinal(case_id=case_id, court_ref=SECOND, final_at=datetime.now(UTC))
        reason, detail = await refused(nc, settings, COURT, again, case_id)
        assert (reason, "its judgment is final" in detail) == ("illegal_step", True)
        # the procuratorate sees the outcome too: it is a party
        seen = await shared(nc, case_id, requester=PROCURATORATE)
        assert seen is not None
        assert seen.status is CaseStatus.JUDGED
    finally:
        await nc.close()


@pytest.mark.timeout(120)
async def test_only_the_procuratorate_declines_to_prosecute(bus: Bus, settings: Settings) -> None:
    case_id, _ = await transferred_and_filed(bus)
    procuratorate = bus.service_as(PROCURATORATE, JudicialService)
    nc = await nats.connect(bus.nats_url)
    try:
        await until_status(nc, case_id, CaseStatus.FILED, "referral.accepted")
        from_a_court = ProsecutionDeclined(
            case_id=case_id,
            decision_ref="X-1",
            grounds="a court does not decide this",
            decided_at=datetime.now(UTC),
        )
        reason, _ = await refused(nc, settings, COURT, from_a_court, case_id)
        assert reason == "not_permitted"

        async with procuratorate.unit_of_work() as uow:
            await procuratorate.decline_prosecution(
                uow,
                case_id,
                decision_ref="沪检刑不诉〔2026〕1号",
                grounds="the evidence is insufficient (CPL art. 175)",
            )
        case = await until_status(nc, case_id, CaseStatus.DECLINED, "prosecution.declined")
        declined = [e for e in case.timeline if e.event_type == "prosecution.declined"]
        assert [e.sender for e in declined] == [PROCURATORATE]
        assert "沪检刑不诉〔2026〕1号" in declined[0].summary
    finally:
        await nc.close()


@pytest.mark.timeout(120)
async def test_only_the_opener_cancels_a_case(bus: Bus, settings: Settings) -> None:
    amr = bus.service_as(AMR, AgencyAdapter)
    case_id = new_ulid()
    async with amr.unit_of_work() as uow:
        await amr.open_case(uow, case_id=case_id, local_ref="沪市监〔2026〕11号", title="Fakes")
        await amr.issue_referral(
            uow,
            case_id=case_id,
            to=PSB,
            kind=ReferralKind.ADMIN_TO_CRIMINAL,
            reason="volume above the criminal threshold",
            legal_basis="Decree 310 art. 3",
            summary="labels",
        )
    nc = await nats.connect(bus.nats_url)
    try:
        await until_status(nc, case_id, CaseStatus.REFERRED, "referral.acknowledged")

        async def decide_clock_running() -> bool:
            return [row.stage for row in await open_deadlines(bus, case_id)] == ["decide"]

        await wait_until(decide_clock_running, what="the police's decide deadline to run")

        # the police are a party (the referral's recipient) but did not open the case
        by_police = CaseCancelled(
            local_ref="沪公刑〔2026〕4号", reason="not ours", cancelled_at=datetime.now(UTC)
        )
        reason, detail = await refused(nc, settings, PSB, by_police, case_id)
        assert reason == "not_permitted"
        assert f"{PSB} did not open it" in detail
        still = await shared(nc, case_id)
        assert still is not None
        assert still.status is CaseStatus.REFERRED

        async with amr.unit_of_work() as uow:
            await amr.cancel_case(uow, case_id, reason="opened in error: the goods were genuine")
        case = await until_status(nc, case_id, CaseStatus.CLOSED, "case.cancelled")
        assert [e.sender for e in case.timeline if e.event_type == "case.cancelled"] == [AMR]
        # the clocks of the referral the opener issued stop being watched
        assert await open_deadlines(bus, case_id) == []
    finally:
        await nc.close()


async def _local_ref(service: AgencyAdapter, case_id: str) -> str:
    async with service.unit_of_work() as uow:
        return (await service.local_case(uow, case_id)).local_ref
