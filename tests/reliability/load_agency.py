"""A customs office under load, as its own OS process: ``python -m tests.reliability.load_agency``.

It is the real :class:`CustomsService` (consumer, inbox, outbox relay), plus a loop that
opens one case per id in ``--cases`` and refers it to ``--to`` in one transaction — three
events per case end to end (case.opened → coordinator, referral.issued → the other agency,
and that agency's referral.acknowledged back). Killed with -9 and started again, it skips
the cases its ledger already holds, as a real agency system resuming its work would.

Each case names one of :data:`COMPANIES` companies as its suspect, in turn: every company
is named in many cases, which the stream files under different partitions, so the
coordinator's cross-case work (the party index, the repeat-infringer signal and the
warning it routes) runs on several partitions at once (issue 18).
"""

import argparse
import asyncio
import signal
from pathlib import Path

from sqlmodel import col, select

from contracts.cases import Party, PartyKind, PartyRole
from contracts.identifiers import CREDIT_CODE_CHARSET, credit_code_check_char
from contracts.referrals import ReferralKind
from services.coordinator.signals.rules import INFRINGER_ROLES
from services.customs.app import CustomsService
from services.runtime.identity import Settings, prepare_registry
from services.runtime.ops import configure_logging
from services.sdk import LocalCaseRecord, bootstrap

__all__ = ["COMPANIES", "company_code", "main", "suspect_of"]

COMPANIES = 10
"""How many companies the load's cases name, in turn (case ``n`` names company ``n % 10``)."""
SUSPECT: PartyRole = min(INFRINGER_ROLES)
"""The role the load names its companies in: one the repeat-infringer signal counts."""


def company_code(company: int) -> str:
    """The unified social credit code of load company ``company`` (valid, GB 32100-2015)."""
    digits: list[str] = []
    number = company
    for _ in range(8):  # the company's number in the charset's base, zero-padded
        number, digit = divmod(number, len(CREDIT_CODE_CHARSET))
        digits.append(CREDIT_CODE_CHARSET[digit])
    first17 = "914400007" + "".join(reversed(digits))  # 9: a company, 1: an enterprise
    return first17 + credit_code_check_char(first17)


def suspect_of(number: int) -> Party:
    """The company case ``number`` of the load names as its suspect."""
    company = number % COMPANIES
    return Party(
        kind=PartyKind.LEGAL_PERSON,
        role=SUSPECT,
        name=f"Load Trading Co. {company}",
        credit_code=company_code(company),
    )


async def drive(agency_id: str, recipient: str, case_ids: list[str]) -> None:
    settings = Settings()
    configure_logging(level="WARNING", fmt="json")
    assert settings.nats_url is not None, "IPBUS_NATS_URL must be set"
    registry = prepare_registry(
        settings.registry_path, settings.keys_dir, settings.effective_registry_path
    )
    service = bootstrap(
        CustomsService,
        settings=settings,
        registry=registry,
        agency_id=agency_id,
        nats_url=settings.nats_url,
    )
    assert isinstance(service, CustomsService)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    try:
        async with service.database.transaction() as session:
            done = set((await session.exec(select(col(LocalCaseRecord.case_id)))).all())
        for number, case_id in enumerate(case_ids):
            if case_id in done:
                continue
            async with service.unit_of_work() as uow:
                await service.open_case(
                    uow,
                    case_id=case_id,
                    local_ref=f"LOAD-{number}",
                    title=f"Load case {number}",
                    parties=[suspect_of(number)],
                )
                await service.issue_referral(
                    uow,
                    case_id=case_id,
                    to=recipient,
                    kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
                    reason="suspected counterfeit goods",
                    legal_basis="Customs IP Protection Regulations art. 27",
                    summary=f"load case {number}",
                )
            if stop.is_set():
                return
        print("load issued", flush=True)
        await stop.wait()
    finally:
        await service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agency", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--cases", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(drive(args.agency, args.to, args.cases.read_text().split()))


if __name__ == "__main__":
    main()
