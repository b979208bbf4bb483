"""How a case looks in a terminal."""

from rich.console import Console
from rich.table import Table

from contracts.queries import CaseView, TimelineEntry

__all__ = ["case_table", "timeline_line"]


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
