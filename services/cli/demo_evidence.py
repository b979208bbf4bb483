"""The demo's evidence part: customs attaches an inspection report to a case it referred to
the regulator and the police; both fetch it through the coordinator, check its digest
against the signed event and receipt it; an agency not party to the case cannot fetch it."""

import asyncio
import hashlib
import tempfile
from pathlib import Path

from nats.aio.client import Client
from nats.js.object_store import ObjectStore

from contracts.evidence import EVIDENCE_BUCKET, EvidenceKind
from contracts.identifiers import new_ulid
from contracts.queries import EvidenceView
from contracts.referrals import ReferralKind
from contracts.subjects import COORDINATOR
from services.cli.demo_support import STEP_TIMEOUT_S, DemoFailed, Say, Stage, pause, service
from services.customs.app import CustomsService
from services.runtime.bus import StepRefused
from services.sdk import fetch_evidence, query_case

__all__ = ["play_evidence"]

CUSTOMS = "customs-shanghai"
REGULATOR = "amr-shanghai"
POLICE = "psb-shanghai"
STRANGER = "customs-guangdong"
REPORT_BYTES = 400 * 1024
"""A few object-store chunks (128 KiB each), so the fetch goes chunk by chunk."""


async def play_evidence(stage: Stage, say: Say, *, pace: float) -> str:
    """Attach, verify twice, refuse a stranger; return the case id."""
    customs = service(stage.bus, CUSTOMS, CustomsService)
    case_id = new_ulid()

    await pause(pace)
    say("\nE1. Customs refers a detention to the regulator and the police")
    async with customs.unit_of_work() as uow:
        await customs.open_case(
            uow, case_id=case_id, local_ref="沪关缉〔2026〕E1号", title="Counterfeit sneakers"
        )
        for to, kind in (
            (REGULATOR, ReferralKind.CUSTOMS_TO_ENFORCEMENT),
            (POLICE, ReferralKind.CUSTOMS_TO_CRIMINAL),
        ):
            await customs.issue_referral(
                uow,
                case_id=case_id,
                to=to,
                kind=kind,
                reason="suspected counterfeit trademark goods",
                legal_basis="Customs IP Regulations",
                summary="2,400 pairs of sneakers",
            )

    await pause(pace)
    say("\nE2. Customs attaches its inspection report: bytes via the coordinator, digest signed")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "inspection-report.pdf"
        path.write_bytes(hashlib.sha256(b"report").digest() * (REPORT_BYTES // 32))
        attached = await customs.attach_evidence(
            case_id,
            path,
            kind=EvidenceKind.INSPECTION_REPORT,
            title="Inspection report: 2,400 pairs of sneakers",
            media_type="application/pdf",
            to=[REGULATOR, POLICE],
        )
    say(f"   {attached.object}: {attached.size} bytes, sha256 {attached.sha256[:16]}…")

    await pause(pace)
    say("\nE3. The regulator and the police fetch it, check the digest and receipt it")
    item = await _receipted(stage, case_id, attached.evidence_id)
    for receipt in item.receipts:
        say(f"   {receipt.agency_id}: {receipt.outcome} (sha256 {receipt.sha256[:16]}…)")
    if sorted((r.agency_id, r.outcome) for r in item.receipts) != [
        (REGULATOR, "verified"),
        (POLICE, "verified"),
    ]:
        raise DemoFailed(f"evidence receipts are {item.receipts}")

    await pause(pace)
    say(f"\nE4. {STRANGER}, not party to the case, cannot fetch it")
    client = await stage.bus.connect(STRANGER, name="ipbus-demo-stranger")
    try:
        with tempfile.TemporaryFile() as sink:
            await fetch_evidence(
                client, requester=STRANGER, evidence_id=attached.evidence_id, into=sink
            )
    except StepRefused as exc:
        say(f"   {exc.detail}")
    else:
        raise DemoFailed(f"{STRANGER} fetched evidence on a case it is not party to")
    finally:
        await client.close()

    await pause(pace)
    say(
        "\nE5. Anyone holding the hub's credentials (an auditor, say) reads the object "
        "straight from the object store with a plain nats-py client and checks it against "
        "the signed event"
    )
    digest = await _hash_from_the_store(stage.nc, attached.object)
    if digest != attached.sha256:
        raise DemoFailed(f"the stored object hashes to {digest}, the event says {attached.sha256}")
    say(f"   {EVIDENCE_BUCKET}/{attached.object}: sha256 {digest[:16]}… matches the signed event")
    return case_id


async def _hash_from_the_store(nc: Client, name: str) -> str:
    """SHA-256 of object ``name`` read with plain nats-py: its info, then its chunks one
    stored message at a time (what the hub's read rights allow: message gets, no consumer)."""
    js = nc.jetstream()
    stream = f"OBJ_{EVIDENCE_BUCKET}"
    info = await ObjectStore(name=EVIDENCE_BUCKET, stream=stream, js=js).get_info(name)
    digest, seq = hashlib.sha256(), 1
    for _ in range(info.chunks or 0):
        msg = await js.get_msg(
            stream, seq=seq, subject=f"$O.{EVIDENCE_BUCKET}.C.{info.nuid}", next=True
        )
        digest.update(msg.data or b"")
        seq = (msg.seq or 0) + 1
    return digest.hexdigest()


async def _receipted(stage: Stage, case_id: str, evidence_id: str) -> EvidenceView:
    """The evidence once both recipients have receipted it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT_S
    while loop.time() < deadline:
        case = (await query_case(stage.nc, requester=COORDINATOR, case_id=case_id)).case
        for item in case.evidence if case else []:
            if item.evidence_id == evidence_id and len(item.receipts) >= 2:
                return item
        await asyncio.sleep(0.2)
    raise DemoFailed(f"evidence {evidence_id} was not receipted by both recipients in time")
