"""Evidence with integrity on the real bus (issue 19 part 1), on SQLite and PostgreSQL.

Customs attaches an inspection report to a case it referred to the regulator and the police;
each fetches the bytes through the coordinator, checks the digest the signed event carries
and receipts it. Bytes overwritten in the store are refused, with the reason, and audited;
a non-party gets "not found"; a raw nats-py client checks an object against its event.
"""

import hashlib
import io
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import ObjectNotFoundError
from sqlmodel import select

from contracts.envelope import publish_subject
from contracts.evidence import (
    EVIDENCE_BUCKET,
    EVIDENCE_CHUNK_BYTES,
    EVIDENCE_PUT_QUERY,
    EvidenceAttached,
    EvidenceKind,
    EvidenceOutcome,
    EvidencePutQuery,
    EvidencePutReply,
    EvidenceReceived,
    evidence_object_name,
)
from contracts.identifiers import new_ulid
from contracts.queries import CaseView, EvidenceView
from contracts.referrals import ReferralKind
from services.coordinator.app import CoordinatorService
from services.coordinator.audit.store import AuditRecord
from services.runtime.bus import StepRefused
from services.runtime.identity import Settings
from services.sdk import (
    AgencyAdapter,
    Bus,
    EvidenceTooLarge,
    ask_coordinator,
    fetch_evidence,
    put_evidence,
    query_case,
)
from tests.conftest import REGISTRY
from tests.integration.conftest import StartBus, StartGateway
from tests.integration.test_case_outcomes import refused
from tests.integration.wire import publish, signed, wait_until

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
AMR = "amr-shanghai"
PSB = "psb-shanghai"
STRANGER = "customs-guangdong"
AGENCIES = ("coordinator", CUSTOMS, AMR, PSB, STRANGER)
REPORT_BYTES = 300 * 1024 + 17
"""Three object-store chunks, the last one short."""


@pytest.fixture
async def bus(settings: Settings, start_bus: StartBus) -> Bus:
    return await start_bus(settings, AGENCIES)


def report(tmp_path: Path, size: int = REPORT_BYTES) -> Path:
    path = tmp_path / "inspection-report.pdf"
    block = hashlib.sha256(b"inspection").digest() * 32
    with path.open("wb") as file:
        written = 0
        while written < size:
            piece = block[: size - written]
            file.write(piece)
            written += len(piece)
    return path


async def referred_case(bus: Bus) -> str:
    """A detention at customs referred to the regulator and to the police."""
    return (await referred(bus))[0]


async def referred(bus: Bus) -> tuple[str, dict[str, str]]:
    """:func:`referred_case`, and the referral id to each recipient."""
    customs = bus.service_as(CUSTOMS, AgencyAdapter)
    case_id = new_ulid()
    referrals: dict[str, str] = {}
    async with customs.unit_of_work() as uow:
        await customs.open_case(uow, case_id=case_id, local_ref="沪关缉〔2026〕7号", title="Shoes")
        for to, kind in (
            (AMR, ReferralKind.CUSTOMS_TO_ENFORCEMENT),
            (PSB, ReferralKind.CUSTOMS_TO_CRIMINAL),
        ):
            record = await customs.issue_referral(
                uow,
                case_id=case_id,
                to=to,
                kind=kind,
                reason="suspected counterfeit trademark goods",
                legal_basis="Customs IP Regulations",
                summary="1,200 pairs of shoes",
            )
            referrals[to] = record.referral_id
    return case_id, referrals


async def evidence_on(nc: Client, case_id: str, evidence_id: str, receipts: int) -> EvidenceView:
    """The evidence as the case query lists it, once it has ``receipts`` receipts."""
    seen: list[EvidenceView] = []

    async def listed() -> bool:
        case: CaseView | None = (
            await query_case(nc, requester="coordinator", case_id=case_id)
        ).case
        for item in case.evidence if case else []:
            if item.evidence_id == evidence_id and len(item.receipts) >= receipts:
                seen.append(item)
                return True
        return False

    await wait_until(listed, what=f"evidence {evidence_id} with {receipts} receipts", timeout_s=60)
    return seen[-1]


@pytest.mark.timeout(120)
async def test_customs_evidence_is_verified_by_the_regulator_and_the_police(
    bus: Bus, tmp_path: Path
) -> None:
    case_id = await referred_case(bus)
    path = report(tmp_path)
    attached = await bus.service_as(CUSTOMS, AgencyAdapter).attach_evidence(
        case_id,
        path,
        kind=EvidenceKind.INSPECTION_REPORT,
        title="Inspection report on 1,200 pairs of shoes",
        media_type="application/pdf",
        to=[AMR, PSB],
    )
    assert attached.size == REPORT_BYTES
    assert attached.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    nc = await nats.connect(bus.nats_url)
    try:
        item = await evidence_on(nc, case_id, attached.evidence_id, receipts=2)
        assert (item.uploader, item.sha256, item.size) == (CUSTOMS, attached.sha256, REPORT_BYTES)
        assert sorted((r.agency_id, r.outcome, r.sha256) for r in item.receipts) == [
            (AMR, "verified", attached.sha256),
            (PSB, "verified", attached.sha256),
        ]

        # a raw nats-py client (here on the open development server) reads the object and
        # checks it against the digest the signed event carries
        store = await nc.jetstream().object_store(EVIDENCE_BUCKET)
        got = await store.get(attached.object)
        assert hashlib.sha256(got.data or b"").hexdigest() == attached.sha256

        # a party fetches through the coordinator; an agency not party to the case cannot
        sink = tmp_path / "fetched"
        with sink.open("wb") as file:
            digest, size = await fetch_evidence(
                nc, requester=AMR, evidence_id=attached.evidence_id, into=file
            )
        assert (digest, size) == (attached.sha256, REPORT_BYTES)
        with sink.open("wb") as file, pytest.raises(StepRefused, match="not found"):
            await fetch_evidence(
                nc, requester=STRANGER, evidence_id=attached.evidence_id, into=file
            )
        # bytes cannot be minimised: evidence is not sent abroad (DESIGN §6)
        with sink.open("wb") as file, pytest.raises(StepRefused, match="not sent abroad"):
            await fetch_evidence(
                nc, requester="overseas-center", evidence_id=attached.evidence_id, into=file
            )
    finally:
        await nc.close()


@pytest.mark.timeout(120)
async def test_overwritten_bytes_are_refused_with_the_reason_and_audited(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    case_id = await referred_case(bus)
    original = report(tmp_path).read_bytes()
    evidence_id = new_ulid()
    name = evidence_object_name(case_id, evidence_id)
    nc = await nats.connect(bus.nats_url)  # privileged: the open development server
    try:
        # customs uploads through the hub and signs the digest of what it sent; then the
        # bytes are overwritten in the store by someone with the server's keys
        sha256, size = await put_evidence(
            nc,
            requester=CUSTOMS,
            case_id=case_id,
            evidence_id=evidence_id,
            source=io.BytesIO(original),
            limit=len(original),
        )
        attached = EvidenceAttached(
            evidence_id=evidence_id,
            case_id=case_id,
            kind=EvidenceKind.PHOTO,
            title="Photo of the labels",
            media_type="image/jpeg",
            size=size,
            sha256=sha256,
            object=name,
        )
        store = await nc.jetstream().object_store(EVIDENCE_BUCKET)
        tampered = original[:-1] + bytes([original[-1] ^ 0xFF])
        await store.put(name, tampered)
        envelope = signed(settings, CUSTOMS, attached, case_id=case_id)
        await publish(nc, publish_subject(envelope, AMR), envelope)

        item = await evidence_on(nc, case_id, evidence_id, receipts=1)
        (receipt,) = item.receipts
        assert (receipt.agency_id, receipt.outcome) == (AMR, "refused")
        assert receipt.sha256 == hashlib.sha256(tampered).hexdigest()
        assert receipt.reason == (
            f"sha256 mismatch: expected {attached.sha256}, got {receipt.sha256}"
        )

        async with bus.services["coordinator"].database.transaction() as session:
            rows = await session.exec(
                select(AuditRecord).where(AuditRecord.event_type == "evidence.received")
            )
            audited = [row for row in rows.all() if row.case_id == case_id]
        assert [(row.sender, row.verdict) for row in audited] == [(AMR, "accepted")]

        # the uploader cannot receipt its own evidence; evidence cannot name a referral
        # that is not on the case: both dead-lettered with the reason
        own = EvidenceReceived(
            evidence_id=evidence_id,
            case_id=case_id,
            sha256=attached.sha256,
            outcome=EvidenceOutcome.VERIFIED,
        )
        reason, detail = await refused(nc, settings, CUSTOMS, own, case_id)
        assert (reason, "cannot receipt it itself" in detail) == ("not_permitted", True)
        stray = attached.model_copy(update={"referral_id": new_ulid()})
        reason, detail = await refused(nc, settings, CUSTOMS, stray, case_id)
        assert (reason, "not on case" in detail) == ("illegal_step", True)

        # an attachment must repeat what the hub stored: no upload, another digest, or
        # another agency's upload are refused with the reason
        unstored = attached.model_copy(
            update={"evidence_id": (other := new_ulid()), "object": f"{case_id}/{other}"}
        )
        reason, detail = await refused(nc, settings, CUSTOMS, unstored, case_id)
        assert (reason, "no bytes were stored" in detail) == ("illegal_step", True)
        other_id = new_ulid()
        await put_evidence(
            nc,
            requester=CUSTOMS,
            case_id=case_id,
            evidence_id=other_id,
            source=io.BytesIO(b"another photo"),
            limit=1000,
        )
        lying = attached.model_copy(
            update={
                "evidence_id": other_id,
                "object": evidence_object_name(case_id, other_id),
                "size": 13,
            }
        )
        reason, detail = await refused(nc, settings, CUSTOMS, lying, case_id)
        assert (reason, "was stored as 13 bytes" in detail) == ("illegal_step", True)
        claimed = lying.model_copy(update={"sha256": hashlib.sha256(b"another photo").hexdigest()})
        reason, detail = await refused(nc, settings, AMR, claimed, case_id)
        assert (reason, "was uploaded by customs-shanghai" in detail) == ("not_permitted", True)
    finally:
        await nc.close()


@pytest.fixture
async def secured_bus(
    tmp_path: Path, database_settings: dict[str, Any], start_bus: StartBus
) -> Bus:
    """No IPBUS_NATS_URL: the bus embeds nats-server with the generated permissions."""
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path / "var",
            "registry_path": REGISTRY,
            "outbox_poll_seconds": 0.2,
            **database_settings,
        }
    )
    return await start_bus(settings, AGENCIES)


@pytest.mark.timeout(120)
async def test_on_the_secured_bus_only_the_coordinator_reads_the_bucket(
    secured_bus: Bus, tmp_path: Path
) -> None:
    bus = secured_bus
    case_id, referrals = await referred(bus)
    # customs uploads through the coordinator (it has no right on the bucket itself);
    # the opinion travels with the referral to the regulator
    attached = await bus.service_as(CUSTOMS, AgencyAdapter).attach_evidence(
        case_id,
        report(tmp_path),
        kind=EvidenceKind.IDENTIFICATION_OPINION,
        title="Rights holder's identification opinion",
        media_type="application/pdf",
        to=[AMR],
        referral_id=referrals[AMR],
    )
    asker = await bus.connect("coordinator", name="test-coordinator")
    try:
        item = await evidence_on(asker, case_id, attached.evidence_id, receipts=1)
        assert [(r.agency_id, r.outcome) for r in item.receipts] == [(AMR, "verified")]
        assert item.referral_id == referrals[AMR]
    finally:
        await asker.close()

    for agency in (STRANGER, AMR):  # a non-party, and even a party: no raw access
        nc = await bus.connect(agency, name=f"test-raw-{agency}")
        try:
            # not even the bucket's stream info (the lookup object_store() makes)
            with pytest.raises(Exception) as raised:  # noqa: PT011 - timeout or permission
                await nc.jetstream(timeout=2).object_store(EVIDENCE_BUCKET)
            assert not isinstance(raised.value, AssertionError)
            if agency == STRANGER:  # nor through the coordinator: "not found"
                with (tmp_path / "x").open("wb") as file, pytest.raises(StepRefused):
                    await fetch_evidence(
                        nc, requester=STRANGER, evidence_id=attached.evidence_id, into=file
                    )
            else:  # a party fetches through the coordinator and gets the signed digest
                with (tmp_path / "y").open("wb") as file:
                    digest, _ = await fetch_evidence(
                        nc, requester=AMR, evidence_id=attached.evidence_id, into=file
                    )
                assert digest == attached.sha256
        finally:
            await nc.close()

    # no agency has any right on the bucket: a rollup (which would wipe it) is refused
    before = (await asker_info(bus)).state.messages
    nc = await bus.connect(STRANGER, name="test-rollup")
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - permissions: no responders
            await nc.jetstream(timeout=2).publish(
                f"$O.{EVIDENCE_BUCKET}.C.anything", b"", headers={"Nats-Rollup": "all"}
            )
        assert not isinstance(raised.value, AssertionError)
        # nor may it upload to a case it is not party to
        with pytest.raises(StepRefused, match="not party to it"):
            await put_evidence(
                nc,
                requester=STRANGER,
                case_id=case_id,
                evidence_id=new_ulid(),
                source=io.BytesIO(b"x" * 1000),
                limit=10_000,
            )
    finally:
        await nc.close()
    after = await asker_info(bus)
    assert after.state.messages == before
    # every object is still there, and still reads back with its digest
    sink = tmp_path / "again"
    regulator = await bus.connect(AMR, name="test-regulator-read")
    try:
        with sink.open("wb") as file:
            digest, _ = await fetch_evidence(
                regulator, requester=AMR, evidence_id=attached.evidence_id, into=file
            )
        assert digest == attached.sha256
    finally:
        await regulator.close()


async def asker_info(bus: Bus) -> Any:
    """The bucket's stream, as the coordinator (alone allowed) sees it."""
    nc = await bus.connect("coordinator", name="test-bucket-info")
    try:
        return await nc.jetstream().stream_info(f"OBJ_{EVIDENCE_BUCKET}")
    finally:
        await nc.close()


@pytest.mark.timeout(120)
async def test_an_upload_past_the_limit_leaves_nothing_and_a_retried_chunk_changes_nothing(
    bus: Bus, tmp_path: Path
) -> None:
    case_id = await referred_case(bus)
    intake = bus.services["coordinator"].intake  # type: ignore[attr-defined]
    intake.limit = 200_000
    evidence_id = new_ulid()
    nc = await nats.connect(bus.nats_url)
    try:
        with pytest.raises(EvidenceTooLarge, match="larger than 200000 bytes"):
            await put_evidence(
                nc,
                requester=CUSTOMS,
                case_id=case_id,
                evidence_id=evidence_id,
                source=io.BytesIO(b"x" * 300_000),
                limit=10**6,  # this side would let it through: the hub stops it
            )
        store = await nc.jetstream().object_store(EVIDENCE_BUCKET)
        with pytest.raises(ObjectNotFoundError):
            await store.get_info(evidence_object_name(case_id, evidence_id))
        assert intake.open_uploads == 0
        assert list(intake.spool_dir.iterdir()) == []

        # a chunk sent twice (its answer lost) is taken once; the last, again, answers
        # what was stored
        body = report(tmp_path, 200_000).read_bytes()
        evidence_id = new_ulid()
        first, rest = body[:EVIDENCE_CHUNK_BYTES], body[EVIDENCE_CHUNK_BYTES:]
        replies = [
            await ask_coordinator(
                nc,
                requester=CUSTOMS,
                query=EVIDENCE_PUT_QUERY,
                request=EvidencePutQuery(
                    evidence_id=evidence_id, case_id=case_id, index=i, data=data, last=last
                ),
                reply_type=EvidencePutReply,
                wait_s=30,
            )
            for i, data, last in ((0, first, False), (0, first, False), (1, rest, True))
        ]
        assert [r.error for r in replies] == [None, None, None]
        assert [r.received for r in replies] == [len(first), len(first), len(body)]
        stored = replies[-1]
        assert (stored.stored, stored.size) == (True, len(body))
        assert stored.sha256 == hashlib.sha256(body).hexdigest()
        again = await ask_coordinator(
            nc,
            requester=CUSTOMS,
            query=EVIDENCE_PUT_QUERY,
            request=EvidencePutQuery(
                evidence_id=evidence_id, case_id=case_id, index=1, data=rest, last=True
            ),
            reply_type=EvidencePutReply,
        )
        assert (again.stored, again.sha256) == (True, stored.sha256)
        # only the uploader continues (or re-asks about) its upload
        theirs = await ask_coordinator(
            nc,
            requester=AMR,
            query=EVIDENCE_PUT_QUERY,
            request=EvidencePutQuery(
                evidence_id=evidence_id, case_id=case_id, index=1, data=rest, last=True
            ),
            reply_type=EvidencePutReply,
        )
        assert theirs.error == "no such upload, or not yours"
        got = await store.get(evidence_object_name(case_id, evidence_id))
        assert hashlib.sha256(got.data or b"").hexdigest() == stored.sha256
        assert list(intake.spool_dir.iterdir()) == []
    finally:
        await nc.close()


@pytest.mark.timeout(120)
async def test_the_gateway_takes_uploads_up_to_the_limit_and_serves_parties_only(
    bus: Bus, start_gateway: StartGateway, tmp_path: Path
) -> None:
    case_id = await referred_case(bus)
    body = report(tmp_path).read_bytes()
    customs = await start_gateway(bus.services[CUSTOMS], evidence_max_bytes=len(body))
    regulator = await start_gateway(bus.services[AMR])
    stranger = await start_gateway(bus.services[STRANGER])
    form = {"kind": "photo", "title": "Labels", "to": [AMR, PSB]}
    async with httpx.AsyncClient(base_url=customs.url, timeout=30) as http:
        # a byte over the limit: refused as problem details (a body far over it is refused
        # by its declared length before it is read: BodyLimit, tests/integration/
        # test_gateway_guard.py; the client then sees the connection closed mid-send)
        too_large = await http.post(
            f"/cases/{case_id}/evidence",
            data=form,
            files={"file": ("labels.jpg", body + b"!", "image/jpeg")},
        )
        assert too_large.status_code == 413, too_large.text
        assert too_large.headers["content-type"].startswith("application/problem+json")
        assert "limited to" in too_large.json()["detail"]

        # addressees that are not agency ids, or no agency of the registry (found by
        # schemathesis: a control character reached the subject and ended in a 500)
        for to, status in ((["\x17\u00b9"], 422), ([AMR, "no-such-agency"], 409)):
            refused = await http.post(
                f"/cases/{case_id}/evidence",
                data={**form, "to": to},
                files={"file": ("labels.jpg", body, "image/jpeg")},
            )
            assert refused.status_code == status, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
        assert "no-such-agency" in refused.json()["detail"]

        created = await http.post(
            f"/cases/{case_id}/evidence",
            data=form,
            files={"file": ("labels.jpg", body, "image/jpeg")},
        )
        assert created.status_code == 201, created.text
        attached = EvidenceAttached.model_validate(created.json())
    assert (attached.media_type, attached.size) == ("image/jpeg", len(body))
    assert attached.sha256 == hashlib.sha256(body).hexdigest()

    nc = await nats.connect(bus.nats_url)
    try:
        item = await evidence_on(nc, case_id, attached.evidence_id, receipts=2)
        assert {r.outcome for r in item.receipts} == {"verified"}
    finally:
        await nc.close()

    async with httpx.AsyncClient(base_url=regulator.url, timeout=30) as http:
        async with http.stream("GET", f"/evidence/{attached.evidence_id}") as response:
            assert response.status_code == 200
            digest = hashlib.sha256()
            async for piece in response.aiter_bytes():
                digest.update(piece)
        assert digest.hexdigest() == attached.sha256
    async with httpx.AsyncClient(base_url=stranger.url, timeout=30) as http:
        refused = await http.get(f"/evidence/{attached.evidence_id}")
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")


LARGE_BYTES = 24 * 1024 * 1024
"""Large enough that holding it would show: 192 chunks."""


@pytest.mark.timeout(180)
async def test_a_large_object_streams_through_in_chunks(bus: Bus, tmp_path: Path) -> None:
    case_id = await referred_case(bus)
    path = report(tmp_path, LARGE_BYTES)
    tracemalloc.start()
    try:
        attached = await bus.service_as(CUSTOMS, AgencyAdapter).attach_evidence(
            case_id,
            path,
            kind=EvidenceKind.DOCUMENT,
            title="Shipping documents",
            media_type="application/zip",
            to=[AMR],
        )
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        nc = await nats.connect(bus.nats_url)
        try:
            item = await evidence_on(nc, case_id, attached.evidence_id, receipts=1)
            with (tmp_path / "copy").open("wb") as file:
                digest, size = await fetch_evidence(
                    nc, requester=AMR, evidence_id=attached.evidence_id, into=file
                )
        finally:
            await nc.close()
        _, fetch_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(r.agency_id, r.outcome) for r in item.receipts] == [(AMR, "verified")]
    assert (digest, size) == (attached.sha256, LARGE_BYTES)
    # the whole bus runs in this process: what it held at most stays far below the object
    assert put_peak < LARGE_BYTES / 4, put_peak
    assert fetch_peak < LARGE_BYTES / 4, fetch_peak


@pytest.mark.timeout(120)
async def test_an_upload_stays_with_the_replica_that_opened_it_when_two_answer_queries(
    bus: Bus, tmp_path: Path
) -> None:
    """Two coordinators answer queries as one queue group: an upload's first chunk goes to
    either, the rest to the one holding its spool (``evidence_put.<holder>``); before the
    queue group and the holder, a multi-chunk upload hit both replicas' spools."""
    first = bus.services["coordinator"]
    assert isinstance(first, CoordinatorService)
    second = CoordinatorService(first.context)
    await second.start()
    try:
        assert second.replica != first.replica
        case_id = await referred_case(bus)
        for n in range(6):  # each upload's first chunk goes to either replica
            path = report(tmp_path, 5 * EVIDENCE_CHUNK_BYTES + 17 + n)
            nc = await nats.connect(bus.nats_url)
            try:
                with path.open("rb") as source:
                    sha256, size = await put_evidence(
                        nc,
                        requester=CUSTOMS,
                        case_id=case_id,
                        evidence_id=new_ulid(),
                        source=source,
                        limit=10 * EVIDENCE_CHUNK_BYTES,
                    )
            finally:
                await nc.close()
            assert (sha256, size) == (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.stat().st_size,
            )
    finally:
        await second.stop()
