"""``ipbus audit verify|export``: check the coordinator's hash chain, hand it to an auditor."""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.subjects import COORDINATOR
from services.coordinator.audit import AuditEntry, AuditVerdict, first_break, head
from services.coordinator.audit_store import read_audit
from services.runtime.database import Database, database_url_for
from services.runtime.settings import Settings

__all__ = ["audit_app", "load_entries", "read_export"]

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


@audit_app.command("verify")
def verify(
    file: Annotated[
        Path | None, typer.Option(help="verify an exported file instead of the database")
    ] = None,
    agency: AgencyOption = COORDINATOR,
) -> None:
    """Exit 0 if every row links to the one before and matches its hash; else name the
    first broken row and exit 1."""
    entries = read_export(file) if file else asyncio.run(load_entries(Settings(), agency))
    broken = first_break(entries)
    if broken is not None:
        console.print(f"[red]audit log broken at {broken}[/red]")
        raise typer.Exit(code=1)
    count, last = head(entries)
    console.print(f"audit log intact: {count} rows; head {last}")


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
