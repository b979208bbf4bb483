"""The demo's credit and assistance parts (issue 19 parts 3-4).

C1-C4: a regulator lists a company on the serious-violation list on the case of its penalty;
the listing shows on customs' case naming the same company and reaches the interested
agencies; customs trying to list is refused; the regulator lifts the listing. A1-A3: a
Shanghai regulator asks Guangdong's for assistance, which is answered within its deadline;
a second request, left unanswered, runs overdue.
"""

from pydantic import ValidationError

from contracts.cases import Party, PartyKind, PartyRole
from contracts.credit import CreditListed, DelistingReason, ListingState
from contracts.envelope import Envelope, RejectReason
from contracts.identifiers import new_ulid
from contracts.queries import CaseView
from contracts.referrals import AssistancePurpose, ReferralState
from contracts.subjects import COORDINATOR, DLQ_STREAM
from services.cli.demo_support import (
    DemoFailed,
    Say,
    Stage,
    eventually,
    pause,
    running,
    service,
)
from services.enforcement.app import EnforcementService
from services.runtime.bus import DLQ_REASON_HEADER
from services.sdk import AgencyAdapter, query_case

__all__ = ["play_assistance", "play_credit"]

REGULATOR = "amr-shanghai"
OTHER_PROVINCE = "amr-guangdong"
CUSTOMS = "customs-guangdong"
CODE = "91440300MA5F000007"
COMPANY = Party(
    kind=PartyKind.LEGAL_PERSON,
    role=PartyRole.SUSPECT,
    name="深圳某某电子有限公司",
    credit_code=CODE,
)


async def _open(stage: Stage, agency_id: str, local_ref: str, title: str) -> str:
    adapter = await running(stage.bus, agency_id, AgencyAdapter)
    case_id = new_ulid()
    async with adapter.unit_of_work() as uow:
        await adapter.open_case(
            uow, case_id=case_id, local_ref=local_ref, title=title, parties=[COMPANY]
        )
    await stage.watch.wait_for(case_id, "case.opened")
    return case_id


async def _standing(stage: Stage, case_id: str, requester: str, state: ListingState) -> CaseView:
    """The case as ``requester`` sees it, asked on its own connection (the only one it may
    ask on), once it shows the company in ``state``."""
    client = await stage.bus.connect(requester, name=f"ipbus-demo-{requester}")

    async def shown() -> CaseView | None:
        reply = await query_case(client, requester=requester, case_id=case_id)
        case = reply.case
        if case is None or not any(x.state is state for x in case.credit_listings):
            return None
        return case

    try:
        return await eventually(shown, f"{requester} seeing {CODE} {state.value} on {case_id}")
    finally:
        await client.close()


async def play_credit(stage: Stage, say: Say, *, pace: float) -> str:
    """Listing, linking, routing, a refusal and the lifting; return the regulator's case id."""
    regulator = service(stage.bus, REGULATOR, EnforcementService)
    await pause(pace)
    say("\nC1. A Shanghai regulator penalises a company; Guangdong customs has a case on it too")
    case_id = await _open(stage, REGULATOR, "沪市监处〔2026〕88号", "Counterfeit chargers")
    customs_case = await _open(stage, CUSTOMS, "粤关缉〔2026〕31号", "Chargers at Huangpu")

    await pause(pace)
    say("\nC2. The regulator lists it on the serious-violation list (SAMR Order 44)")
    async with regulator.unit_of_work() as uow:
        listed = await regulator.list_party(
            uow,
            case_id,
            credit_code=CODE,
            party_name=COMPANY.name,
            grounds="intentional trademark infringement; heavier penalty imposed",
            decision_ref="沪市监列严〔2026〕5号",
        )
    say(f"   early removal from {listed.removal_from}, ends {listed.expires_on}")
    say(f"   legal basis: {listed.legal_basis[:80]}…")
    other = await _standing(stage, customs_case, CUSTOMS, ListingState.LISTED)
    say(f"   {CUSTOMS} sees it on its own case {other.case_id} (linked by credit code)")

    await pause(pace)
    say("\nC3. Customs tries to list the company itself: refused, only a regulator lists")
    reason = await _customs_lists(stage, customs_case, listed)
    say(f"   IPBUS_DLQ: {reason}")

    await pause(pace)
    say("\nC4. A year on, the company repaired its credit: the regulator lifts the listing")
    async with regulator.unit_of_work() as uow:
        await regulator.delist_party(
            uow,
            case_id,
            credit_code=CODE,
            reason=DelistingReason.EARLY_REMOVAL,
            grounds="listed one year, obligations met, commitments made",
            decision_ref="沪市监移严〔2027〕2号",
        )
    await _standing(stage, customs_case, CUSTOMS, ListingState.DELISTED)
    say(f"   {CUSTOMS} sees the listing lifted")
    return case_id


async def _customs_lists(stage: Stage, case_id: str, listed: CreditListed) -> str:
    """Customs signs and sends a listing of its own; the dead letter's reason."""
    adapter = service(stage.bus, CUSTOMS, AgencyAdapter)
    payload = listed.model_copy(update={"decision_ref": "粤关列严〔2026〕1号"})
    async with adapter.unit_of_work() as uow:
        sent = uow.emit(payload, to=COORDINATOR, case_id=case_id)

    async def dead_lettered() -> str | None:
        js = stage.nc.jetstream()
        info = await js.stream_info(DLQ_STREAM)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(DLQ_STREAM, seq)
            try:
                letter = Envelope.model_validate_json(msg.data or b"")
            except ValidationError:  # a dead letter that is no event at all
                continue
            if letter.id == sent.id:
                return str((msg.headers or {}).get(DLQ_REASON_HEADER, "?"))
        return None

    reason = await eventually(dead_lettered, "customs' listing in IPBUS_DLQ")
    if reason != RejectReason.NOT_PERMITTED.value:
        raise DemoFailed(f"customs' listing was dead-lettered as {reason}, not not_permitted")
    return reason


async def play_assistance(stage: Stage, say: Say, *, pace: float) -> str:
    """One request answered in time, one left to run overdue; return the first case id."""
    shanghai = service(stage.bus, REGULATOR, EnforcementService)
    guangdong = await running(stage.bus, OTHER_PROVINCE, EnforcementService)
    await pause(pace)
    say("\nA1. Shanghai asks Guangdong's regulator to investigate a lead (协助调查函)")
    case_id = await _open(stage, REGULATOR, "沪市监处〔2026〕90号", "Chargers from Dongguan")
    async with shanghai.unit_of_work() as uow:
        asked = await shanghai.request_assistance(
            uow,
            case_id=case_id,
            to=OTHER_PROVINCE,
            purpose=AssistancePurpose.INVESTIGATE_LEAD,
            reason="the supplier's warehouse is in Dongguan",
            legal_basis="市场监督管理行政处罚程序规定 (SAMR Order 2, rev. 2021), assistance letter",
            summary="inspect the warehouse and take the delivery notes",
        )
    await stage.ledger(guangdong, asked.referral_id, ReferralState.ACKNOWLEDGED.value)
    async with guangdong.unit_of_work() as uow:
        await guangdong.accept_referral(uow, asked.referral_id, local_ref="粤市监协〔2026〕12号")
    async with guangdong.unit_of_work() as uow:
        await guangdong.conclude_referral(
            uow, asked.referral_id, outcome="warehouse inspected; 4,000 chargers; notes sent"
        )
    await stage.ledger(shanghai, asked.referral_id, ReferralState.CONCLUDED.value)
    say("   acknowledged, accepted and concluded within the deadline")

    await pause(pace)
    say("\nA2. A second request, to serve a document, is left unanswered")
    late_case = await _open(stage, REGULATOR, "沪市监处〔2026〕91号", "Chargers, second seller")
    async with shanghai.unit_of_work() as uow:
        late = await shanghai.request_assistance(
            uow,
            case_id=late_case,
            to=OTHER_PROVINCE,
            purpose=AssistancePurpose.SERVE_DOCUMENT,
            reason="the seller's registered address is in Guangzhou",
            legal_basis="市场监督管理行政处罚程序规定 (SAMR Order 2, rev. 2021), assistance letter",
            summary="serve the notice of the proposed penalty",
        )
    await stage.ledger(shanghai, late.referral_id, ReferralState.ACKNOWLEDGED.value)

    await pause(pace)
    say("\nA3. Its deadline passes: both regulators are told it is overdue")
    view = await stage.watch.wait_for(late_case, "referral.overdue", count=2)
    told = sorted(e.recipient for e in view.timeline if e.event_type == "referral.overdue")
    if told != sorted([REGULATOR, OTHER_PROVINCE]):
        raise DemoFailed(f"the overdue assistance was notified to {told}")
    say(f"   overdue notices to {', '.join(told)}")
    return case_id
