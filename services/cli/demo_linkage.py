"""Demo, part two: a mediation confirmed by a court, and a transfer the police sit on.

The second case shows the linkage rules at work: the decision deadline runs out and the
coordinator tells customs, the police and the procuratorate; a buggy police system's step
out of order is refused and reported back; the police decline, customs asks for
reconsideration, the decline is upheld, the procuratorate supervises, and the police file.
"""

from contracts.cases import Party, PartyKind, PartyRole
from contracts.identifiers import new_ulid
from contracts.queries import CaseView
from contracts.referrals import ReferralConcluded, ReferralKind
from services.cli.demo_support import DemoFailed, Say, Stage, detention, pause, service
from services.customs.app import CustomsService
from services.enforcement.app import EnforcementService
from services.judicial.app import JudicialService
from services.sdk import query_referrals

__all__ = ["play_mediation", "play_overdue_and_supervision"]

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
POLICE = "psb-shanghai"
PROCURATORATE = "procuratorate-shanghai"
COURT = "court-shanghai-ip"


async def play_mediation(stage: Stage, say: Say, *, pace: float) -> CaseView:
    """A patent dispute mediated by the regulator, confirmed by the IP court."""
    regulator = service(stage.bus, REGULATOR, EnforcementService)
    court = service(stage.bus, COURT, JudicialService)
    watch = stage.watch

    await pause(pace)
    say("\n8. The regulator mediates a patent dispute and asks the court to confirm it")
    case_id = new_ulid()
    parties = (
        Party(
            kind=PartyKind.LEGAL_PERSON,
            role=PartyRole.COMPLAINANT,
            name="Lumen Optics Co., Ltd.",
            credit_code="91310000MA1FL8XQ37",
        ),
        Party(
            kind=PartyKind.LEGAL_PERSON,
            role=PartyRole.SUSPECT,
            name="Haixin Trading Co., Ltd.",
            credit_code="91350100M000100Y43",
        ),
    )
    async with regulator.unit_of_work() as uow:
        await regulator.open_case(
            uow,
            case_id=case_id,
            local_ref="SH-AMR-TJ-2026-0009",
            title="Patent dispute: LED lens design, mediated",
            parties=parties,
        )
        mediation = await regulator.issue_referral(
            uow,
            case_id=case_id,
            to=COURT,
            kind=ReferralKind.MEDIATION_CONFIRMATION,
            reason="both parties apply for judicial confirmation of the mediation agreement",
            legal_basis="Civil Procedure Law arts. 205–206",
            summary="licence fee of 120,000 CNY; infringing stock destroyed",
        )
    await stage.ledger(court, mediation.referral_id, "acknowledged")

    await pause(pace)
    say("\n9. The court accepts the application and confirms the agreement")
    async with court.unit_of_work() as uow:
        await court.accept_referral(uow, mediation.referral_id, local_ref="(2026)HU-73-MIN-TE-15")
    await stage.ledger(court, mediation.referral_id, "accepted")
    async with court.unit_of_work() as uow:
        await court.confirm_mediation(
            uow,
            mediation.referral_id,
            confirmation_ref="(2026)HU-73-MIN-TE-15",
            confirmed=True,
            note="the agreement is lawful and voluntary",
        )
    await watch.wait_for(case_id, "referral.concluded")
    async with regulator.unit_of_work() as uow:
        await regulator.close_case(uow, case_id, outcome="mediation agreement confirmed")
    return await watch.wait_for(case_id, "case.closed")


async def play_overdue_and_supervision(stage: Stage, say: Say, *, pace: float) -> CaseView:
    """A customs transfer to the police that goes overdue and ends under supervision."""
    customs = service(stage.bus, CUSTOMS, CustomsService)
    police = service(stage.bus, POLICE, JudicialService)
    procuratorate = service(stage.bus, PROCURATORATE, JudicialService)
    watch = stage.watch

    await pause(pace)
    say(
        "\n10. On the holder's application and bond (Decree 395 art. 15) customs detains "
        "counterfeit handbags, transfers the case to the police, and records the court's "
        "assistance notice that keeps the goods detained"
    )
    async with customs.unit_of_work() as uow:
        held = await customs.detain_goods(
            uow,
            detention(
                description="handbags bearing the STRIDE mark",
                hs_code="420221",
                quantity=800,
                value="640000.00",
            ),
        )
        transfer = await customs.issue_referral(
            uow,
            case_id=held.case_id,
            to=POLICE,
            kind=ReferralKind.CUSTOMS_TO_CRIMINAL,
            reason="declared value 640,000 CNY: suspected crime under Criminal Law art. 214",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 28",
            summary="800 STRIDE handbags",
        )
        # the holder sued and the court asked customs to keep the goods: no release at 20 days
        await customs.record_court_notice(
            uow, held.detention_id, notice_ref="(2026)HU-73-MIN-CHU-88 assistance notice"
        )
    case_id, referral_id = held.case_id, transfer.referral_id
    say(f"   case {case_id}; the demo policy gives the police 3 seconds to decide")
    await stage.ledger(police, referral_id, "acknowledged")

    await pause(pace)
    say("\n11. The police do not decide in time: the coordinator sends referral.overdue")
    await watch.wait_for(case_id, "referral.overdue", count=3)
    procuratorate_nc = await stage.bus.connect(PROCURATORATE, name="ipbus-demo-procuratorate")
    try:
        late = await query_referrals(procuratorate_nc, requester=PROCURATORATE, overdue_only=True)
    finally:
        await procuratorate_nc.close()
    mine = [d for d in late.deadlines if d.referral_id == referral_id]
    if not mine:
        raise DemoFailed("the procuratorate cannot see the overdue transfer in its region")
    for deadline in mine:
        say(
            f"   {PROCURATORATE} sees: {deadline.late_party} is late at stage "
            f"{deadline.stage.value} by {deadline.late_by_seconds or 0:.1f}s"
        )

    await pause(pace)
    say("\n12. A buggy police system concludes a referral it never accepted: refused")
    async with police.unit_of_work() as uow:
        uow.emit(
            ReferralConcluded(referral_id=referral_id, outcome="closed by mistake"),
            to=CUSTOMS,
            case_id=case_id,
        )
    await watch.wait_for(case_id, "referral.refused")

    await pause(pace)
    say("\n13. The police decline; customs asks for reconsideration; the decline is upheld")
    async with police.unit_of_work() as uow:
        await police.decline_referral(uow, referral_id, reason="value of sales not established")
    await stage.ledger(customs, referral_id, "declined")
    async with customs.unit_of_work() as uow:
        await customs.request_reconsideration(
            uow, referral_id, reason="the declared value alone exceeds 50,000 CNY"
        )
    await stage.ledger(police, referral_id, "reconsidering")
    async with police.unit_of_work() as uow:
        await police.uphold_decline(uow, referral_id, reason="no sales proven yet")
    await stage.ledger(procuratorate, referral_id, "decline_upheld")

    await pause(pace)
    say("\n14. The procuratorate supervises: the police explain, are told to file, and file")
    async with procuratorate.unit_of_work() as uow:
        await procuratorate.open_supervision(uow, referral_id, reason="refusal to file")
    await stage.ledger(police, referral_id, "supervised")
    async with police.unit_of_work() as uow:
        await police.explain_refusal(uow, referral_id, explanation="sales volume unproven")
    await stage.ledger(procuratorate, referral_id, "explained")
    async with procuratorate.unit_of_work() as uow:
        await procuratorate.notify_filing(
            uow, referral_id, reason="goods held for sale: value of goods counts (2004 art. 12)"
        )
    await stage.ledger(police, referral_id, "filing_notified")
    async with police.unit_of_work() as uow:
        await police.file_case(
            uow, referral_id, local_ref="HU-GONG-2026-0350", title="STRIDE handbags"
        )
    return await watch.wait_for(case_id, "case.opened", count=2)
