"""Demo, part one: a border seizure that runs the whole chain to a criminal judgment.

customs finds suspected goods and notifies the right holder, who applies and posts a bond in
time, so the goods are detained (the Chinese clocks: 3 working days to apply, release after
50 working days without a court notice) → customs refers to the regulator (after
withdrawing a referral sent to the wrong office) → the regulator penalizes, and its
findings cross the criminal threshold, so the case goes to the police by rule → filed →
prosecuted → tried → judged → appealed → final → closed.
"""

from datetime import date
from decimal import Decimal

from contracts.cases import CaseStatus
from contracts.identifiers import Money
from contracts.judicial import AppealedBy
from contracts.queries import CaseView
from contracts.referrals import ReferralKind
from services.cli.demo_support import (
    DemoFailed,
    Say,
    Stage,
    detention,
    pause,
    say_release_clock,
    service,
)
from services.customs.app import CustomsService
from services.enforcement.app import EnforcementService
from services.enforcement.domain import Findings, Offence, Offender
from services.judicial.app import JudicialService

__all__ = ["play_criminal_chain"]

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
WRONG_REGULATOR = "amr-guangdong"
POLICE = "psb-shanghai"
PROCURATORATE = "procuratorate-shanghai"
COURT = "court-shanghai-ip"
SHIPPED_ON = date(2026, 1, 12)


async def play_criminal_chain(stage: Stage, say: Say, *, pace: float) -> CaseView:
    """Play the chain; return the case as the coordinator shows it at the end."""
    bus, watch = stage.bus, stage.watch
    customs = service(bus, CUSTOMS, CustomsService)
    regulator = service(bus, REGULATOR, EnforcementService)
    police = service(bus, POLICE, JudicialService)
    procuratorate = service(bus, PROCURATORATE, JudicialService)
    court = service(bus, COURT, JudicialService)
    money = Money(value=Decimal("360000.00"), currency="CNY")

    await pause(pace)
    say(
        "\n1. Shanghai Customs finds 1,200 pairs of suspected counterfeit shoes and notifies "
        "the holder of the recorded STRIDE mark (Decree 395 art. 16)"
    )
    async with customs.unit_of_work() as uow:
        held = await customs.notify_rights_holder(uow, detention())
    case_id = held.case_id
    say(f"   case {case_id}; the holder must apply and post a bond in time, or the goods go")
    async with customs.unit_of_work() as uow:
        held = await customs.record_application(
            uow, held.detention_id, bond_ref="STRIDE-BOND-2026-031"
        )
    say("   the holder applied and posted a bond: customs detains the goods")
    await watch.wait_for(case_id, "goods.detained")
    await say_release_clock(customs, held.detention_id, say)

    say(
        "\n1b. Customs notifies the same holder of a second shipment; this time it does not "
        "answer (the demo's window is 3 seconds), so the goods are released"
    )
    async with customs.unit_of_work() as uow:
        unanswered = await customs.notify_rights_holder(
            uow, detention(description="sports socks bearing the STRIDE mark", quantity=5000)
        )
    await watch.wait_for(unanswered.case_id, "goods.released")
    await say_release_clock(customs, unanswered.detention_id, say)

    await pause(pace)
    say("\n2. Customs refers the case to the wrong office, notices, and withdraws it")
    async with customs.unit_of_work() as uow:
        wrong = await customs.issue_referral(
            uow,
            case_id=case_id,
            to=WRONG_REGULATOR,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="goods infringe a registered trademark",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="1,200 pairs of STRIDE-branded shoes",
        )
    await stage.ledger(customs, wrong.referral_id, "acknowledged")
    async with customs.unit_of_work() as uow:
        await customs.withdraw_referral(uow, wrong.referral_id, reason="sent to the wrong office")
    await watch.wait_for(case_id, "referral.withdrawn")

    await pause(pace)
    say("\n3. Customs refers the case to the Shanghai market regulator")
    async with customs.unit_of_work() as uow:
        referral = await customs.issue_referral(
            uow,
            case_id=case_id,
            to=REGULATOR,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="goods infringe a registered trademark; administrative penalty due",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="1,200 pairs of STRIDE-branded shoes declared at 360,000 CNY",
            amount=money,
        )
    await stage.ledger(regulator, referral.referral_id, "acknowledged")

    await pause(pace)
    say("\n4. The regulator accepts, investigates, fines, and concludes the customs referral")
    local_ref = "SH-AMR-2026-0117"
    async with regulator.unit_of_work() as uow:
        await regulator.accept_referral(uow, referral.referral_id, local_ref=local_ref)
        await regulator.open_case(
            uow, case_id=case_id, local_ref=local_ref, title="Counterfeit STRIDE shoes"
        )
        await regulator.change_case_status(uow, case_id, CaseStatus.INVESTIGATING)
        await regulator.impose_penalty(
            uow,
            case_id,
            illegal_volume=money,
            fine=Money(value=Decimal("900000"), currency="CNY"),
        )
        await regulator.conclude_referral(
            uow, referral.referral_id, outcome="fine of 900,000 CNY; goods to be confiscated"
        )
    await watch.wait_for(case_id, "referral.concluded")
    async with customs.unit_of_work() as uow:
        await customs.confiscate_goods(uow, held.detention_id, decision_ref="HU-GUAN-ZHI-2026-0117")
        await customs.close_case(uow, case_id, outcome="goods confiscated")
    await watch.wait_for(case_id, "case.closed")

    await pause(pace)
    say("\n5. The sums are criminal (≥ 50,000 CNY): concluding the case transfers it by rule")
    findings = Findings(
        offence=Offence.COUNTERFEIT_REGISTERED_TRADEMARK,
        offender=Offender.UNIT,
        committed_on=SHIPPED_ON,  # the act: the rules in force that day apply
        illegal_business_volume=money,
    )
    async with regulator.unit_of_work() as uow:
        transfer = await regulator.conclude_administrative_case(
            uow, case_id, findings, outcome="penalty decided; suspected crime"
        )
    if transfer is None or transfer.recipient != POLICE:
        raise DemoFailed("concluding a 360,000 CNY counterfeit case did not transfer it")
    await stage.ledger(police, transfer.referral_id, "acknowledged")

    await pause(pace)
    say("\n6. Police file the case; the procuratorate prosecutes; the court tries it")
    async with police.unit_of_work() as uow:
        await police.file_case(
            uow, transfer.referral_id, local_ref="HU-GONG-2026-0311", title="STRIDE counterfeits"
        )
    await watch.wait_for(case_id, "referral.accepted", count=2)
    async with procuratorate.unit_of_work() as uow:
        await procuratorate.prosecute(
            uow,
            case_id,
            local_ref="HU-JIAN-2026-0042",
            title="STRIDE counterfeits",
            court=COURT,
        )
    await watch.wait_for(case_id, "case.status_changed", count=3)
    async with court.unit_of_work() as uow:
        await court.start_trial(
            uow, case_id, local_ref="(2026)HU-73-XING-CHU-9", title="STRIDE counterfeits"
        )
    await watch.wait_for(case_id, "case.status_changed", count=4)

    await pause(pace)
    say("\n7. Judgment at first instance; the defendant appeals")
    async with court.unit_of_work() as uow:
        await court.render_judgment(
            uow,
            case_id,
            court_ref="(2026)HU-73-XING-CHU-9",
            verdict="guilty of counterfeiting a registered trademark",
            sentence="fixed-term imprisonment of 3 years; fine",
            fine=Money(value=Decimal("400000"), currency="CNY"),
        )
    async with court.unit_of_work() as uow:
        # lodged through the court of first instance (Criminal Procedure Law, rev. 2018-10-26,
        # art. 231), within ten days of receiving the judgment (art. 230)
        await court.challenge_judgment(
            uow,
            case_id,
            court_ref="(2026)HU-73-XING-CHU-9",
            appealed_by=AppealedBy.DEFENDANT,
            note="appeal lodged within ten days of the judgment (Criminal Procedure Law art. 230)",
        )
    appealed = await watch.wait_for(case_id, "judgment.appealed")
    say(f"   shared status: {appealed.status.value}; the judgment is not yet in force")

    await pause(pace)
    say("\n7b. The appeal is dismissed: the judgment is final, and everyone closes their part")
    async with court.unit_of_work() as uow:
        await court.judgment_final(
            uow,
            case_id,
            court_ref="(2026)HU-73-XING-CHU-9",
            verdict="appeal dismissed, judgment upheld at second instance (final)",
        )
    final = await watch.wait_for(case_id, "judgment.final")
    say(f"   shared status: {final.status.value}; open oversight of the case is closed")
    async with court.unit_of_work() as uow:
        await court.close_case(uow, case_id, outcome="judgment final")
    async with police.unit_of_work() as uow:
        await police.conclude_referral(
            uow, transfer.referral_id, outcome="prosecuted; judgment (2026)HU-73-XING-CHU-9"
        )
        await police.close_case(uow, case_id, outcome="transferred for prosecution; judged")
    async with procuratorate.unit_of_work() as uow:
        await procuratorate.close_case(uow, case_id, outcome="conviction")
    async with regulator.unit_of_work() as uow:
        await regulator.close_case(uow, case_id, outcome="penalty paid; crime transferred")
    return await watch.wait_for(case_id, "case.closed", count=5)
