"""Credit supervision and assistance between regulators on the real bus (issue 19 parts 3-4).

A regulator lists a company on the serious-violation list on the case of its penalty: the
listing shows on that case and on another agency's case naming the company, and reaches the
agencies whose interests match as a ``credit_listing`` warning; it is lifted again; anyone but
a regulator trying to list is dead-lettered. A regulator asks another province's regulator for
assistance: acknowledged, accepted and concluded within the policy's deadlines, and, on a
business clock, one left unanswered runs overdue.
"""

from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.aio.client import Client
from sqlmodel import select

from contracts.cases import Party, PartyKind, PartyRole
from contracts.credit import (
    CreditDelisted,
    CreditList,
    CreditListed,
    DelistingReason,
    ListingState,
)
from contracts.envelope import Envelope, RejectReason, publish_subject
from contracts.identifiers import new_ulid
from contracts.queries import CaseView
from contracts.referrals import AssistancePurpose, ReferralIssued, ReferralKind, ReferralState
from contracts.subjects import EVENT_STREAM, parse_event_subject, stored_filter
from services.coordinator.deadlines.store import DeadlineRecord, DeadlineStatus
from services.coordinator.warnings.store import DeliveryRecord, IssuedWarningRecord
from services.enforcement.app import EnforcementService
from services.runtime.bus import (
    DLQ_CONSUMER_HEADER,
    DLQ_DETAIL_HEADER,
    DLQ_REASON_HEADER,
    FixedClock,
    StepRefused,
)
from services.runtime.identity import Settings
from services.sdk import AgencyAdapter, Bus, WarningRecord, query_case
from tests.integration.conftest import StartBus
from tests.integration.test_case_outcomes import refused
from tests.integration.test_referral_kinds import ledger, until_state
from tests.integration.wire import dead_letters, publish, signed, wait_until

pytestmark = pytest.mark.integration

AMR_SH = "amr-shanghai"
AMR_GD = "amr-guangdong"
CUSTOMS_GD = "customs-guangdong"
COURT_SH = "court-shanghai-ip"
AGENCIES = ("coordinator", AMR_SH, AMR_GD, CUSTOMS_GD, COURT_SH)
CODE = "91350100M000100Y43"
COMPANY = Party(
    kind=PartyKind.LEGAL_PERSON, role=PartyRole.SUSPECT, name="某某贸易有限公司", credit_code=CODE
)
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
POLICY = """
[referral_deadlines]
watch_seconds = 0.2
"""


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, AGENCIES)


async def shared(nc: Client, case_id: str, requester: str) -> CaseView | None:
    return (await query_case(nc, requester=requester, case_id=case_id)).case


async def open_naming_company(bus: Bus, agency: str, local_ref: str) -> str:
    case_id = new_ulid()
    adapter = bus.service_as(agency, AgencyAdapter)
    async with adapter.unit_of_work() as uow:
        await adapter.open_case(
            uow, case_id=case_id, local_ref=local_ref, title="STRIDE fakes", parties=[COMPANY]
        )
    return case_id


async def until_listing(nc: Client, case_id: str, requester: str, state: ListingState) -> None:
    async def shown() -> bool:
        case = await shared(nc, case_id, requester)
        return case is not None and any(
            x.credit_code == CODE and x.state is state for x in case.credit_listings
        )

    await wait_until(shown, what=f"case {case_id} to show {CODE} {state.value} to {requester}")


async def credit_deliveries(bus: Bus) -> dict[str, set[str]]:
    """Per credit_listing warning title: the agencies the coordinator delivered it to."""
    async with bus.services["coordinator"].database.transaction() as session:
        warnings = {
            w.warning_id: w.warning for w in (await session.exec(select(IssuedWarningRecord))).all()
        }
        found: dict[str, set[str]] = {}
        for row in (await session.exec(select(DeliveryRecord))).all():
            warning = warnings.get(row.warning_id)
            if warning is not None and warning.category.value == "credit_listing":
                found.setdefault(warning.title, set()).add(row.agency_id)
        return found


@pytest.mark.timeout(120)
async def test_a_listing_is_linked_to_the_party_s_cases_routed_and_lifted(bus: Bus) -> None:
    case_a = await open_naming_company(bus, AMR_SH, "沪市监处〔2026〕1号")
    case_b = await open_naming_company(bus, CUSTOMS_GD, "粤关缉〔2026〕9号")
    amr = bus.service_as(AMR_SH, EnforcementService)
    nc = await nats.connect(bus.nats_url)
    try:
        await until_listing_ready(nc, case_b)
        async with amr.unit_of_work() as uow:
            listed = await amr.list_party(
                uow,
                case_a,
                credit_code=CODE,
                party_name=COMPANY.name,
                grounds="intentional trademark infringement; heavier penalty",
                decision_ref="沪市监列严〔2026〕1号",
            )
        assert (listed.removal_from - listed.listed_at.date()).days in (365, 366)
        assert listed.expires_on.year == listed.listed_at.year + 3
        assert "credit.serious_violation@2021-09-01" in listed.legal_basis

        # on the case of the penalty, with its line; and on the other agency's case
        await until_listing(nc, case_a, AMR_SH, ListingState.LISTED)
        await until_listing(nc, case_b, CUSTOMS_GD, ListingState.LISTED)
        case = await shared(nc, case_a, AMR_SH)
        assert case is not None
        assert "credit.listed" in [e.event_type for e in case.timeline]
        other = await shared(nc, case_b, CUSTOMS_GD)
        assert other is not None
        [shown] = other.credit_listings
        assert shown.listed_by == AMR_SH
        assert shown.decision_ref == "沪市监列严〔2026〕1号"
        # the other agency learns of it without becoming party to the regulator's case
        assert await shared(nc, case_a, CUSTOMS_GD) is None

        # routed as a credit_listing warning: regions of the lister and of the party's cases,
        # to the agencies interested in credit listings (or in every category)
        async def routed() -> bool:
            return any("listed on" in title for title in await credit_deliveries(bus))

        await wait_until(routed, what="the listing routed as a credit_listing warning")
        [recipients] = [r for t, r in (await credit_deliveries(bus)).items() if "listed on" in t]
        assert {AMR_GD, CUSTOMS_GD, "customs-shanghai", COURT_SH} <= recipients
        assert "procuratorate-shanghai" not in recipients  # not interested in credit listings
        assert "overseas-center" not in recipients

        async def received() -> bool:
            adapter = bus.service_as(AMR_GD, AgencyAdapter)
            async with adapter.database.transaction() as session:
                rows = (await session.exec(select(WarningRecord))).all()
                return any(row.category == "credit_listing" for row in rows)

        await wait_until(received, what="the other province's regulator to receive it")

        # listed twice: refused, standing unchanged
        async with amr.unit_of_work() as uow:
            await amr.list_party(
                uow,
                case_a,
                credit_code=CODE,
                party_name=COMPANY.name,
                grounds="again",
                decision_ref="沪市监列严〔2026〕2号",
            )
        # lifted: early removal after credit repair
        async with amr.unit_of_work() as uow:
            await amr.delist_party(
                uow,
                case_a,
                credit_code=CODE,
                reason=DelistingReason.EARLY_REMOVAL,
                grounds="listed one year, obligations met",
                decision_ref="沪市监移严〔2027〕1号",
            )
        await until_listing(nc, case_b, CUSTOMS_GD, ListingState.DELISTED)
        other = await shared(nc, case_b, CUSTOMS_GD)
        assert other is not None
        [shown] = other.credit_listings
        assert shown.decision_ref == "沪市监列严〔2026〕1号"  # the second listing was refused
        assert shown.delisting_reason is DelistingReason.EARLY_REMOVAL
    finally:
        await nc.close()


async def until_listing_ready(nc: Client, case_id: str) -> None:
    """The coordinator has indexed the party of ``case_id`` (its case file exists)."""

    async def opened() -> bool:
        return await shared(nc, case_id, "coordinator") is not None

    await wait_until(opened, what=f"case {case_id} on the shared file")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sender", [CUSTOMS_GD, COURT_SH])
async def test_only_a_regulator_lists(bus: Bus, settings: Settings, sender: str) -> None:
    case_id = await open_naming_company(bus, sender, "LOCAL-1")
    nc = await nats.connect(bus.nats_url)
    try:
        await until_listing_ready(nc, case_id)
        now = datetime.now(UTC)
        listing = CreditListed(
            credit_code=CODE,
            party_name=COMPANY.name,
            credit_list=CreditList.SERIOUS_VIOLATION,
            grounds="not ours to decide",
            legal_basis="SAMR Order 44",
            decision_ref="X-1",
            listed_at=now,
            removal_from=now.date() + timedelta(days=366),
            expires_on=now.date() + timedelta(days=3 * 366),
        )
        reason, detail = await refused(nc, settings, sender, listing, case_id)
        assert reason == RejectReason.NOT_PERMITTED.value
        assert "credit.listed may come from enforcement only" in detail
        lifting = CreditDelisted(
            credit_code=CODE,
            credit_list=CreditList.SERIOUS_VIOLATION,
            reason=DelistingReason.DECISION_REVOKED,
            grounds="not ours either",
            decision_ref="X-2",
            delisted_at=now,
        )
        reason, _ = await refused(nc, settings, sender, lifting, case_id)
        assert reason == RejectReason.NOT_PERMITTED.value
        case = await shared(nc, case_id, sender)
        assert case is not None
        assert case.credit_listings == []
    finally:
        await nc.close()


async def deadlines_of(bus: Bus, referral_id: str) -> dict[str, DeadlineRecord]:
    async with bus.services["coordinator"].database.transaction() as session:
        rows = await session.exec(
            select(DeadlineRecord).where(DeadlineRecord.referral_id == referral_id)
        )
        return {row.stage: row for row in rows.all()}


@pytest.mark.timeout(120)
async def test_assistance_across_provinces_is_answered_within_its_deadline(bus: Bus) -> None:
    amr_sh, amr_gd = bus.service_as(AMR_SH, AgencyAdapter), bus.service_as(AMR_GD, AgencyAdapter)
    case_id = await open_naming_company(bus, AMR_SH, "沪市监处〔2026〕7号")
    async with amr_sh.unit_of_work() as uow:
        referral = await amr_sh.request_assistance(
            uow,
            case_id=case_id,
            to=AMR_GD,
            purpose=AssistancePurpose.INVESTIGATE_LEAD,
            reason="the supplier's warehouse is in Dongguan",
            legal_basis="SAMR Order 2 (rev. 2021), assistance letter",
            summary="inspect the warehouse and take the delivery notes",
        )
    referral_id = referral.referral_id
    await until_state(bus, AMR_SH, referral_id, ReferralState.ACKNOWLEDGED)
    async with amr_gd.unit_of_work() as uow:
        await amr_gd.accept_referral(uow, referral_id, local_ref="粤市监协〔2026〕3号")
    await until_state(bus, AMR_SH, referral_id, ReferralState.ACCEPTED)
    async with amr_gd.unit_of_work() as uow:
        await amr_gd.conclude_referral(uow, referral_id, outcome="warehouse inspected, notes sent")
    await until_state(bus, AMR_SH, referral_id, ReferralState.CONCLUDED)

    async def all_met() -> bool:
        rows = await deadlines_of(bus, referral_id)
        return set(rows) == {"acknowledge", "decide", "conclude"} and all(
            r.status == DeadlineStatus.MET.value for r in rows.values()
        )

    await wait_until(all_met, what="every assistance deadline met")
    rows = await deadlines_of(bus, referral_id)
    assert rows["decide"].rule_version == "referral.decide.regulator_assistance@2021-07-15"
    assert rows["conclude"].rule_version == "referral.conclude.regulator_assistance@2021-07-15"
    assert rows["decide"].period == "15 working days"
    received = await ledger(bus, AMR_GD, referral_id)
    assert received is not None
    assert received.supervisor is None  # two regulators: no procuratorate on it


@pytest.mark.timeout(60)
async def test_assistance_inside_one_province_or_to_another_kind_is_refused(bus: Bus) -> None:
    amr_sh = bus.service_as(AMR_SH, AgencyAdapter)
    case_id = await open_naming_company(bus, AMR_SH, "沪市监处〔2026〕8号")
    for to, why in ((COURT_SH, "from a regulator to a regulator"), (CUSTOMS_GD, "regulator")):
        with pytest.raises(StepRefused, match=why):
            async with amr_sh.unit_of_work() as uow:
                await amr_sh.send_referral(
                    uow,
                    ReferralIssued(
                        referral_id=new_ulid(),
                        case_id=case_id,
                        kind=ReferralKind.REGULATOR_ASSISTANCE,
                        reason="r",
                        legal_basis="b",
                        summary="s",
                        purpose=AssistancePurpose.SERVE_DOCUMENT,
                    ),
                    to=to,
                )


@pytest.mark.timeout(60)
async def test_assistance_sent_around_the_desk_is_dead_lettered(
    bus: Bus, settings: Settings
) -> None:
    """Signed and published by hand to a court: the coordinator refuses it (not_permitted)."""
    case_id = await open_naming_company(bus, AMR_SH, "沪市监处〔2026〕10号")
    issued = ReferralIssued(
        referral_id=new_ulid(),
        case_id=case_id,
        kind=ReferralKind.REGULATOR_ASSISTANCE,
        reason="r",
        legal_basis="b",
        summary="s",
        purpose=AssistancePurpose.SERVE_DOCUMENT,
    )
    envelope = signed(settings, AMR_SH, issued, case_id=case_id)
    nc = await nats.connect(bus.nats_url)
    try:
        await until_listing_ready(nc, case_id)
        await publish(nc, publish_subject(envelope, COURT_SH), envelope)
        found: dict[str, tuple[str, str]] = {}

        async def lettered() -> bool:
            for letter in await dead_letters(nc, at_least=1):
                headers = letter.headers or {}
                if headers.get(DLQ_CONSUMER_HEADER) != "coordinator":
                    continue
                if Envelope.model_validate_json(letter.data or b"").id == envelope.id:
                    found["coordinator"] = (headers[DLQ_REASON_HEADER], headers[DLQ_DETAIL_HEADER])
            return "coordinator" in found

        await wait_until(lettered, what="the hand-made assistance request in IPBUS_DLQ")
        reason, detail = found["coordinator"]
        assert reason == RejectReason.NOT_PERMITTED.value
        assert "from a regulator to a regulator" in detail
        case = await shared(nc, case_id, AMR_SH)
        assert case is not None
        assert case.referrals == []
    finally:
        await nc.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def clocked_bus(settings: Settings, start_bus: StartBus, clock: FixedClock) -> Bus:
    return await start_bus(settings, AGENCIES, clock=clock, policy=POLICY)


@pytest.mark.timeout(120)
async def test_unanswered_assistance_runs_overdue(clocked_bus: Bus, clock: FixedClock) -> None:
    bus = clocked_bus
    amr_sh = bus.service_as(AMR_SH, AgencyAdapter)
    case_id = await open_naming_company(bus, AMR_SH, "沪市监处〔2026〕9号")
    async with amr_sh.unit_of_work() as uow:
        referral = await amr_sh.request_assistance(
            uow,
            case_id=case_id,
            to=AMR_GD,
            purpose=AssistancePurpose.SERVE_DOCUMENT,
            reason="the party's registered address is in Guangzhou",
            legal_basis="SAMR Order 2 (rev. 2021), assistance letter",
            summary="serve the notice of the proposed penalty",
        )
    referral_id = referral.referral_id
    await until_state(bus, AMR_SH, referral_id, ReferralState.ACKNOWLEDGED)
    # 15 working days after Monday 2 March 2026 (the day of receipt not counted): due Monday
    # 23 March, 24:00 Shanghai time

    async def clocks_started() -> bool:
        return "decide" in await deadlines_of(bus, referral_id)

    await wait_until(clocks_started, what="the coordinator to start the assistance clocks")
    rows = await deadlines_of(bus, referral_id)
    assert rows["decide"].due_at == datetime(2026, 3, 23, 16, 0, tzinfo=UTC)
    clock.advance(timedelta(days=14))  # Monday 16 March: not yet due

    async def overdue_notices() -> dict[str, int]:
        nc = await nats.connect(bus.nats_url)
        try:
            info = await nc.jetstream().stream_info(
                EVENT_STREAM,
                subjects_filter=stored_filter("coordinator", "*", "referral.overdue"),
            )
        finally:
            await nc.close()
        notices: dict[str, int] = {}
        for subject, n in (info.state.subjects or {}).items():
            recipient = parse_event_subject(subject).recipient
            notices[recipient] = notices.get(recipient, 0) + n
        return notices

    assert await overdue_notices() == {}
    clock.advance(timedelta(days=8))  # Tuesday 24 March: the 15 working days have run out

    async def told() -> bool:
        return await overdue_notices() == {AMR_SH: 1, AMR_GD: 1}

    await wait_until(told, what="both regulators told the assistance is overdue")
    rows = await deadlines_of(bus, referral_id)
    assert rows["decide"].status == DeadlineStatus.OVERDUE.value
