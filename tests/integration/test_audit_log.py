"""The coordinator's audit log on a running bus: every accepted and rejected event is
chained, and ``ipbus audit verify`` names the first broken row after any tampering."""

import asyncio
import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from contracts.agencies import IpType
from contracts.cases import CaseOpened, IpRight
from contracts.envelope import new_envelope, publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from services.cli.audit import load_entries
from services.cli.main import app
from services.coordinator.audit.anchors import sign_anchor
from services.coordinator.audit.chain import (
    AuditEntry,
    AuditVerdict,
    chain_next,
    first_break,
    head,
)
from services.coordinator.audit.store import AuditRecord
from services.runtime.bus import DLQ_REASON_HEADER
from services.runtime.identity import AgencyKey, Settings, generate_seed, key_path, sign_envelope
from services.runtime.storage import Database, database_url_for
from services.sdk import Bus, query_case
from tests.integration.wire import dead_letters, publish, signed, to_coordinator, wait_until

pytestmark = pytest.mark.integration

SENDER = "customs-shanghai"


def _opened(local_ref: str) -> CaseOpened:
    return CaseOpened(
        local_ref=local_ref,
        title="Counterfeit handbags",
        ip_rights=[IpRight(type=IpType.TRADEMARK, registration_no="G1", holder="Maison A")],
        parties=[],  # no shared party: a repeat-infringer warning would add audit rows
        goods=[],
        opened_at=datetime.now(UTC),
    )


def _coordinator_db(settings: Settings) -> Database:
    return Database(
        database_url_for(settings.database_url, settings.data_dir, "coordinator"),
        namespace=settings.database_schema_prefix + "coordinator",
    )


async def _verify(settings: Settings) -> tuple[int, str]:
    """``ipbus audit verify`` as a user runs it, with the bus's settings in the environment."""
    env = {
        "IPBUS_DATA_DIR": str(settings.data_dir),
        "IPBUS_DATABASE_SCHEMA_PREFIX": settings.database_schema_prefix,
    }
    if settings.database_url:
        env["IPBUS_DATABASE_URL"] = settings.database_url
    result = await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify"], env=env)
    return result.exit_code, result.output


async def _fill(bus: Bus, settings: Settings) -> None:
    """Three accepted events and two rejected ones (a forgery and a replay)."""
    nc = await nats.connect(bus.nats_url)
    try:
        for n in range(3):
            envelope = signed(settings, SENDER, _opened(f"SH-A-{n}"), case_id=new_ulid())
            await publish(nc, publish_subject(envelope, COORDINATOR), envelope)
        await publish(nc, to_coordinator(SENDER, "case.opened", new_ulid()), b"forged")
        stale = new_envelope(
            sender=SENDER,
            payload=_opened("SH-OLD"),
            now=datetime.now(UTC) - timedelta(days=3),
            case_id=new_ulid(),
        )
        key = AgencyKey(key_path(settings.keys_dir, SENDER).read_bytes())
        replayed = sign_envelope(stale, key)
        await publish(nc, publish_subject(replayed, COORDINATOR), replayed)
        letters = await dead_letters(nc, at_least=2)
        assert sorted(m.headers[DLQ_REASON_HEADER] for m in letters if m.headers) == [
            "not_json",
            "replayed",
        ]
    finally:
        await nc.close()

    async def five_rows() -> bool:
        return len(await load_entries(settings)) >= 5

    await wait_until(five_rows, what="five audit rows")


async def test_accepted_and_rejected_events_are_chained(bus: Bus, settings: Settings) -> None:
    await _fill(bus, settings)
    entries = await load_entries(settings)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert first_break(entries) is None
    verdicts = [(e.verdict, e.reason) for e in entries]
    assert verdicts.count((AuditVerdict.ACCEPTED, None)) == 3
    assert (AuditVerdict.REJECTED, "not_json") in verdicts
    assert (AuditVerdict.REJECTED, "replayed") in verdicts
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))
    code, output = await _verify(settings)
    assert code == 0, output
    assert "5 rows" in output


Tamper = Callable[[AsyncSession], Awaitable[None]]


async def _alter(session: AsyncSession) -> None:
    row = await session.get(AuditRecord, 2)
    assert row is not None
    row.sender = "court-shanghai-ip"
    session.add(row)


async def _remove(session: AsyncSession) -> None:
    row = await session.get(AuditRecord, 2)
    await session.delete(row)


async def _reorder(session: AsyncSession) -> None:
    """Swap rows 2 and 3, renumbering them so the seq column still runs 1..5."""
    rows = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq).in_([2, 3])))).all()
    contents = [r.model_dump() for r in rows]
    for row in rows:
        await session.delete(row)
    await session.flush()
    for content, seq in zip(contents, (3, 2), strict=True):
        session.add(AuditRecord(**(content | {"seq": seq})))


@pytest.mark.parametrize(
    ("tamper", "broken_row"),
    [(_alter, "row 2"), (_remove, "row 2"), (_reorder, "row 2")],
    ids=["altered", "removed", "reordered"],
)
async def test_verify_names_the_first_broken_row(
    bus: Bus, settings: Settings, tamper: Tamper, broken_row: str, tmp_path: Path
) -> None:
    await _fill(bus, settings)
    await bus.stop()  # nothing appends while the auditor looks
    export = tmp_path / "audit.jsonl"
    env = {
        "IPBUS_DATA_DIR": str(settings.data_dir),
        "IPBUS_DATABASE_SCHEMA_PREFIX": settings.database_schema_prefix,
        **({"IPBUS_DATABASE_URL": settings.database_url} if settings.database_url else {}),
    }
    exported = await asyncio.to_thread(
        CliRunner().invoke, app, ["audit", "export", "--out", str(export)], env=env
    )
    assert exported.exit_code == 0, exported.output
    assert len(export.read_text().splitlines()) == 5
    assert json.loads(export.read_text().splitlines()[0])["prev_hash"] == "0" * 64

    database = _coordinator_db(settings)
    try:
        async with database.transaction() as session:
            await tamper(session)
    finally:
        await database.close()

    code, output = await _verify(settings)
    assert code == 1, output
    assert f"broken at {broken_row}" in output

    # the auditor's copy still verifies, against this bus's registry (not whatever a
    # `make demo` left in ./var of the checkout the tests run in)
    from_file = await asyncio.to_thread(
        CliRunner().invoke, app, ["audit", "verify", "--file", str(export)], env=env
    )
    assert from_file.exit_code == 0, from_file.output
    assert "signatures verified: 3 accepted events" in from_file.output


def _env(settings: Settings, *, with_bus: bool) -> dict[str, str]:
    env = {
        "IPBUS_DATA_DIR": str(settings.data_dir),
        "IPBUS_DATABASE_SCHEMA_PREFIX": settings.database_schema_prefix,
    }
    if settings.database_url:
        env["IPBUS_DATABASE_URL"] = settings.database_url
    if with_bus and settings.nats_url:
        env["IPBUS_NATS_URL"] = settings.nats_url
    return env


async def _verify_with_anchor(settings: Settings) -> tuple[int, str]:
    """``ipbus audit verify`` with the bus reachable: the latest anchor is checked too."""
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["audit", "verify"], env=_env(settings, with_bus=True)
    )
    return result.exit_code, result.output


async def _rewrite(settings: Settings, change: Callable[[AuditEntry], AuditEntry]) -> None:
    """What an insider with the coordinator's database role can do: rewrite every row,
    recomputing each hash, so the chain links again."""
    database = _coordinator_db(settings)
    try:
        async with database.transaction() as session:
            records = (await session.exec(select(AuditRecord).order_by(col(AuditRecord.seq)))).all()
            entries = [
                AuditEntry(**(r.model_dump() | {"verdict": AuditVerdict(r.verdict)}))
                for r in records
            ]
            for record in records:
                await session.delete(record)
            await session.flush()
            previous: AuditEntry | None = None
            for entry in entries:
                previous = chain_next(previous, change(entry))
                session.add(AuditRecord(**(asdict(previous) | {"verdict": previous.verdict.value})))
    finally:
        await database.close()


async def _cut_tail(settings: Settings, keep: int) -> None:
    database = _coordinator_db(settings)
    try:
        async with database.transaction() as session:
            for record in (
                await session.exec(select(AuditRecord).where(col(AuditRecord.seq) > keep))
            ).all():
                await session.delete(record)
    finally:
        await database.close()


async def test_the_anchor_names_a_cut_tail(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    await _fill(bus, settings)
    await bus.stop()  # its last act: an anchor of the whole chain
    code, output = await _verify_with_anchor(settings)
    assert code == 0, output
    assert "matches the anchor" in output
    assert "(5 rows)" in output
    assert "signatures verified: 3 accepted events" in output

    anchor_file = tmp_path / "anchor.json"
    saved = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["audit", "anchor", "--out", str(anchor_file)],
        env=_env(settings, with_bus=True),
    )
    assert saved.exit_code == 0, saved.output

    await _cut_tail(settings, keep=3)
    assert first_break(await load_entries(settings)) is None  # still a valid, shorter chain
    code, output = await _verify_with_anchor(settings)
    assert code == 1, output
    assert "rows 4..5 missing: the chain ends at 3 but the anchor of" in output
    assert "says 5" in output
    offline = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["audit", "verify", "--anchor-file", str(anchor_file)],
        env=_env(settings, with_bus=False),
    )
    assert offline.exit_code == 1, offline.output
    assert "rows 4..5 missing" in offline.output


async def test_the_anchor_names_a_consistent_rewrite(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    await _fill(bus, settings)
    await bus.stop()

    def reason_changed(entry: AuditEntry) -> AuditEntry:
        return replace(entry, detail="nothing to see") if entry.reason == "replayed" else entry

    await _rewrite(settings, reason_changed)
    assert first_break(await load_entries(settings)) is None
    code, output = await _verify_with_anchor(settings)
    assert code == 1, output
    assert "head hash at row 5 differs from the anchor of" in output

    # the insider's own anchor of the rewritten chain is not signed by the coordinator
    rows, last = head(await load_entries(settings))
    forged = sign_anchor(
        AgencyKey(generate_seed()), agency="coordinator", rows=rows, head=last, time="now"
    )
    (tmp_path / "forged.json").write_bytes(forged.to_json())
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["audit", "verify", "--anchor-file", str(tmp_path / "forged.json")],
        env=_env(settings, with_bus=False),
    )
    assert result.exit_code == 1, result.output
    assert "is not signed by coordinator's key" in result.output


async def test_an_altered_event_body_fails_its_signature(bus: Bus, settings: Settings) -> None:
    await _fill(bus, settings)
    await bus.stop()

    forged_row = next(e.seq for e in await load_entries(settings) if e.body is not None)

    def body_changed(entry: AuditEntry) -> AuditEntry:
        if entry.seq != forged_row or entry.body is None:
            return entry
        body = entry.body.replace("Counterfeit handbags", "Genuine handbags")
        return replace(entry, body=body, digest=hashlib.sha256(body.encode()).hexdigest())

    await _rewrite(settings, body_changed)
    assert first_break(await load_entries(settings)) is None  # digest and hashes recomputed
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["audit", "verify"], env=_env(settings, with_bus=False)
    )
    assert result.exit_code == 1, result.output
    assert f"signature check failed at row {forged_row}" in result.output
    assert "does not verify against customs-shanghai's registered key" in result.output


async def test_a_case_query_leaves_an_audit_row(bus: Bus, settings: Settings) -> None:
    await _fill(bus, settings)
    case_id = next(e.case_id for e in await load_entries(settings) if e.case_id)
    assert case_id is not None
    nc = await nats.connect(bus.nats_url)
    try:
        shown = await query_case(nc, requester=SENDER, case_id=case_id)
        refused = await query_case(nc, requester="customs-guangdong", case_id=case_id)
    finally:
        await nc.close()
    assert shown.case is not None
    assert refused.case is None
    queries = [e for e in await load_entries(settings) if e.ref.startswith("query:")]
    assert [(e.verdict, e.sender, e.case_id) for e in queries] == [
        (AuditVerdict.ANSWERED, SENDER, case_id),
        (AuditVerdict.REFUSED, "customs-guangdong", case_id),
    ]
    assert all(e.subject.endswith(".case") for e in queries)
    assert first_break(await load_entries(settings)) is None
