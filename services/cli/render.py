"""How a case looks in a terminal, and how any read command prints for a script."""

import json
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from contracts.queries import CaseView, TimelineEntry
from contracts.referral_queries import DeadlineView

__all__ = [
    "JsonOption",
    "case_deadlines",
    "case_table",
    "due_text",
    "evidence_table",
    "print_json",
    "timeline_line",
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="print one JSON document on stdout, for scripts")
]


def print_json(document: BaseModel | dict[str, Any]) -> None:
    """One JSON document on stdout: a pydantic model as its JSON form, else ``json.dumps``
    (datetimes as ISO 8601). Nothing else may go to stdout with ``--json``."""
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2, default=_jsonable))


def _jsonable(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def due_text(deadline: DeadlineView) -> str:
    """When it is due, or why there is no due time."""
    if deadline.due_at is not None:
        return f"{deadline.due_at:%Y-%m-%d %H:%M:%S}"
    return "clock stopped" if deadline.status == "stopped" else "not computable"


def case_deadlines(deadlines: list[DeadlineView], console: Console) -> None:
    """The case's referral deadlines, each with the rule version that set it."""
    if not deadlines:
        return
    table = Table(title="Deadlines")
    for column in ("referral", "stage", "period", "due (UTC)", "status", "rule"):
        table.add_column(column)
    for deadline in deadlines:
        table.add_row(
            deadline.referral_id,
            deadline.stage.value,
            deadline.period,
            due_text(deadline),
            deadline.status,
            deadline.rule_version or "",
        )
    console.print(table)
    for deadline in deadlines:
        if deadline.problem:
            console.print(f"[red]{deadline.stage.value}: {deadline.problem}[/red]")


def timeline_line(entry: TimelineEntry) -> str:
    """One timeline entry as one line, for a scrolling demo."""
    route = f"{entry.sender} → {entry.recipient}"
    return (
        f"  {entry.time:%H:%M:%S.%f}"[:-3]
        + f"  {route:<40} {entry.event_type:<22} [{entry.status_after.value:<13}] {entry.summary}"
    )


def case_table(case: CaseView, console: Console) -> None:
    """The whole case: header, parties, referrals and timeline."""
    console.print(f"[bold]Case {case.case_id}[/bold] — {case.title}")
    console.print(f"Shared status: [bold]{case.status.value}[/bold]")
    parties = ", ".join(
        f"{p.agency_id} ({p.local_ref})" if p.local_ref else p.agency_id for p in case.parties
    )
    console.print(f"Parties: {parties}")
    for referral in case.referrals:
        console.print(
            f"Referral {referral.referral_id} {referral.kind.value}: "
            f"{referral.sender} → {referral.recipient}, {referral.state.value}"
        )
    for listing in case.credit_listings:
        until = (
            f"until {listing.expires_on} (early removal from {listing.removal_from})"
            if listing.delisted_at is None
            else f"lifted {listing.delisted_at:%Y-%m-%d} ({listing.delisting_reason})"
        )
        console.print(
            f"Credit: {listing.party_name} ({listing.credit_code}) {listing.state.value} on "
            f"{listing.credit_list.value} by {listing.listed_by} ({listing.decision_ref}), {until}"
        )
    table = Table(show_lines=False)
    for column in ("#", "time (UTC)", "from → to", "event", "status", "what happened"):
        table.add_column(column)
    for entry in case.timeline:
        table.add_row(
            str(entry.seq),
            f"{entry.time:%Y-%m-%d %H:%M:%S}",
            f"{entry.sender} → {entry.recipient}",
            entry.event_type,
            entry.status_after.value,
            entry.summary,
        )
    console.print(table)
    evidence_table(case, console)


def evidence_table(case: CaseView, console: Console) -> None:
    """The case's evidence and, for each piece, who verified or refused it and when."""
    if not case.evidence:
        return
    table = Table(title="Evidence", show_lines=False)
    for column in ("evidence", "kind", "title", "bytes", "sha256", "from", "receipts"):
        table.add_column(column)
    for item in case.evidence:
        receipts = "; ".join(
            f"{r.agency_id} {r.outcome} {r.received_at:%Y-%m-%d %H:%M:%S}"
            + (f" ({r.reason})" if r.reason else "")
            for r in item.receipts
        )
        table.add_row(
            item.evidence_id,
            item.kind,
            item.title,
            str(item.size),
            f"{item.sha256[:12]}…",
            item.uploader,
            receipts or "none yet",
        )
    console.print(table)
