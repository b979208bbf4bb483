"""The demo's oversight part: a case penalised instead of transferred is flagged to the
procuratorate, which suggests a transfer; the regulator answers by transferring it."""

import json
from datetime import date
from decimal import Decimal

from contracts.identifiers import Money, new_ulid
from contracts.oversight import CaseFindings, Offence, Offender
from contracts.subjects import COORDINATOR, stored_filter
from services.cli.demo_support import DemoFailed, Say, Stage, pause, service
from services.coordinator.app import CoordinatorService
from services.coordinator.oversight.flow import OversightRecord
from services.enforcement.app import EnforcementService
from services.judicial.app import JudicialService
from services.runtime.bus import last_stored

__all__ = ["play_oversight"]

REGULATOR = "amr-shanghai"
PROCURATORATE = "procuratorate-shanghai"
POLICE = "psb-shanghai"


async def play_oversight(stage: Stage, say: Say, *, pace: float) -> str:
    """Run flag → suggestion → transfer; return the case id."""
    regulator = service(stage.bus, REGULATOR, EnforcementService)
    procuratorate = service(stage.bus, PROCURATORATE, JudicialService)
    coordinator = service(stage.bus, "coordinator", CoordinatorService)
    case_id = new_ulid()
    volume = Money(value=Decimal("120000"), currency="CNY")
    findings = CaseFindings(
        offence=Offence.COUNTERFEIT_REGISTERED_TRADEMARK,
        offender=Offender.UNIT,
        committed_on=date(2026, 2, 3),
        illegal_business_volume=volume,
        illegal_gains=Money(value=Decimal("41000"), currency="CNY"),
    )

    await pause(pace)
    say("\nO1. A regulator fines a counterfeiting case of 120,000 CNY instead of transferring it")
    async with regulator.unit_of_work() as uow:
        await regulator.open_case(
            uow, case_id=case_id, local_ref="SH-AMR-2026-0301", title="Counterfeit STRIDE shirts"
        )
        await regulator.impose_penalty(
            uow,
            case_id,
            illegal_volume=volume,
            fine=Money(value=Decimal("360000"), currency="CNY"),
            findings=findings,
        )

    await pause(pace)
    say("\nO2. The coordinator flags it to the procuratorate: the threshold in force was crossed")
    await stage.watch.wait_for(case_id, "oversight.flagged")
    flag = await _flag_received(stage, case_id)
    say(f"   rule applied: {flag['threshold_rule']} — {flag['legal_source']}")

    await pause(pace)
    say("\nO3. The procuratorate suggests a transfer, with a reply deadline (rule oversight.reply)")
    async with procuratorate.unit_of_work() as uow:
        suggestion = await procuratorate.suggest_transfer(
            uow,
            case_id,
            flag["oversight_id"],
            regulator=REGULATOR,
            reason="illegal business volume of 120,000 CNY: a suspected crime under art. 213",
        )
    say(f"   reply by {suggestion.reply_by:%Y-%m-%d %H:%M} UTC ({suggestion.reply_rule})")
    await stage.watch.wait_for(case_id, "oversight.suggested")

    await pause(pace)
    say("\nO4. The regulator answers by transferring the case to public security")
    async with regulator.unit_of_work() as uow:
        transfer = await regulator.transfer_on_suspicion(
            uow, case_id, grounds="fined, then flagged: 120,000 CNY of fakes", findings=findings
        )
    if transfer.recipient != POLICE:
        raise DemoFailed(f"the transfer went to {transfer.recipient}, not {POLICE}")
    say(f"   referral {transfer.referral_id} (admin_to_criminal) → {POLICE}")
    await stage.ledger(regulator, transfer.referral_id, "acknowledged")
    async with coordinator.database.transaction() as session:
        record = await session.get(OversightRecord, flag["oversight_id"])
    if record is None or record.status != "transferred":
        raise DemoFailed(f"the oversight did not close by the transfer ({record})")
    say("   the coordinator closed the oversight: answered by a transfer")
    return case_id


async def _flag_received(stage: Stage, case_id: str) -> dict[str, str]:
    """The flag as the procuratorate received it (the last one on its subject)."""
    subject = stored_filter(COORDINATOR, PROCURATORATE, "oversight.flagged", key=case_id)
    message = await last_stored(stage.nc.jetstream(), subject)
    envelope = json.loads(message.data or b"{}") if message else {}
    if envelope.get("subject") != case_id:
        raise DemoFailed("the procuratorate did not receive the flag about this case")
    data: dict[str, str] = envelope["data"]
    return data
