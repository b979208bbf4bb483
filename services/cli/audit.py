"""``ipbus audit verify|export|anchor``: check the coordinator's hash chain against its signed
anchor and the senders' signatures; hand the log and the anchor to an auditor."""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.agencies import Registry
from contracts.subjects import COORDINATOR
from services.cli.bus import operator_client, run_on_bus
from services.coordinator.audit.anchors import anchor_signed_by, latest_anchor
from services.coordinator.audit.chain import (
    AuditAnchor,
    AuditEntry,
    AuditVerdict,
    anchor_mismatch,
    first_break,
    head,
)
from services.coordinator.audit.signatures import check_signatures
from services.coordinator.audit.store import read_audit
from services.runtime.identity import Settings, load_registry, read_bus_record
from services.runtime.storage import Database, database_url_for

__all__ = ["audit_app", "fetch_anchor", "load_entries", "read_export"]

audit_app = typer.Typer(help="The coordinator's tamper-evident audit log.", no_args_is_help=True)
console = Console(soft_wrap=True)

AgencyOption = Annotated[str, typer.Option(help="the coordinator's agency id")]


async def load_entries(settings: Settings, agency_id: str = COORDINATOR) -> Sequence[AuditEntry]:
    """The log as the coordinator's database holds it (IPBUS_DATABASE_URL / data dir)."""
    database = Database(
        database_url_for(settings.database_url, settings.data_dir, agency_id),
        namespace=settings.database_schema_prefix + agency_id,
    )
    try:
        async with database.transaction() as session:
            return await read_audit(session)
    finally:
        await database.close()


def read_export(path: Path) -> list[AuditEntry]:
    """Entries from an ``ipbus audit export`` file (JSON Lines)."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            data["verdict"] = AuditVerdict(data["verdict"])
            entries.append(AuditEntry(**data))
    return entries


async def fetch_anchor(settings: Settings) -> AuditAnchor | None:
    """The latest anchor the coordinator published on the bus, read as the operator."""
    async with operator_client(settings, name="ipbus-audit") as nc:
        return await latest_anchor(nc.jetstream())


def _bus_known(settings: Settings) -> bool:
    return settings.nats_url is not None or read_bus_record(settings) is not None


def _anchor(settings: Settings, anchor_file: Path | None) -> AuditAnchor | None:
    if anchor_file is not None:
        return AuditAnchor.from_json(anchor_file.read_bytes())
    if not _bus_known(settings):
        return None
    return run_on_bus(fetch_anchor(settings))  # a bus that fails is one line, exit 2


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code=1)


def _check_anchor(
    entries: Sequence[AuditEntry], anchor: AuditAnchor, registry: Registry | None
) -> None:
    if registry is None:
        console.print("[yellow]anchor signature not checked: no registry[/yellow]")
    else:
        signer = registry.get(anchor.agency) if anchor.agency in registry else None
        keys = [k for k in (signer.public_key, signer.previous_public_key) if k] if signer else []
        if not anchor_signed_by(anchor, keys):
            raise _fail(f"the anchor of {anchor.time} is not signed by {anchor.agency}'s key")
    mismatch = anchor_mismatch(entries, anchor)
    if mismatch is not None:
        raise _fail(f"audit log does not match its anchor: {mismatch}")
    newer = len(entries) - anchor.rows
    console.print(
        f"matches the anchor of {anchor.time} ({anchor.rows} rows)"
        + (f"; {newer} newer rows not yet anchored" if newer else "")
    )


@audit_app.command("verify")
def verify(
    file: Annotated[
        Path | None, typer.Option(help="verify an exported file instead of the database")
    ] = None,
    anchor_file: Annotated[
        Path | None,
        typer.Option(help="check against this anchor (JSON) instead of the bus's latest"),
    ] = None,
    registry_file: Annotated[
        Path | None,
        typer.Option(
            help="re-verify signatures with this registry (default: <data dir>/agencies.toml)"
        ),
    ] = None,
    agency: AgencyOption = COORDINATOR,
) -> None:
    """Exit 0 if every row links to the one before and matches its hash, the chain agrees
    with the latest signed anchor (no tail cut, no rewrite) and every accepted event's
    signature verifies; else say what is wrong and exit 1."""
    settings = Settings()
    entries = read_export(file) if file else asyncio.run(load_entries(settings, agency))
    broken = first_break(entries)
    if broken is not None:
        raise _fail(f"audit log broken at {broken}")
    count, last = head(entries)
    console.print(f"audit log intact: {count} rows; head {last}")
    registry_path = registry_file or settings.effective_registry_path
    registry = load_registry(registry_path) if registry_path.exists() else None
    if registry is None:
        console.print(
            f"[yellow]signatures not re-verified: no registry at {registry_path}[/yellow]"
        )
    else:
        checked = check_signatures(entries, registry)
        if checked.failure is not None:
            raise _fail(f"signature check failed at {checked.failure}")
        console.print(f"signatures verified: {checked.verified} accepted events")
    anchor = _anchor(settings, anchor_file)
    if anchor is None:
        console.print(
            "[yellow]no anchor checked: a cut tail or a consistent rewrite would not show "
            "(no bus recorded by `ipbus up` here and no IPBUS_NATS_URL; or pass "
            "--anchor-file)[/yellow]"
        )
        return
    _check_anchor(entries, anchor, registry)


@audit_app.command("anchor")
def anchor(
    out: Annotated[Path, typer.Option(help="JSON file to write the latest anchor to")],
) -> None:
    """Save the latest signed anchor from the bus, to hand to an auditor with an export."""
    settings = Settings()
    latest = run_on_bus(fetch_anchor(settings))
    if latest is None:
        raise _fail("no anchor published yet")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(latest.to_json() + b"\n")
    console.print(f"wrote the anchor of {latest.time} ({latest.rows} rows) to {out}")


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="JSON Lines file to write")],
    agency: AgencyOption = COORDINATOR,
) -> None:
    """Write every row, with its hashes, one JSON object per line, for an auditor (who can
    re-check it with ``ipbus audit verify --file``)."""
    entries = asyncio.run(load_entries(Settings(), agency))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(asdict(entry), ensure_ascii=False, sort_keys=True) + "\n")
    count, last = head(entries)
    console.print(f"wrote {count} rows to {out}; head {last}")
