"""``ipbus referrals [--overdue]``: referral deadlines, who is late and by how long."""

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.referral_queries import DeadlineView, ReferralsReply
from contracts.subjects import COORDINATOR
from services.cli.bus import asking_as, operator_client, run_on_bus
from services.cli.render import JsonOption, due_text, print_json
from services.runtime.identity import Settings
from services.sdk import query_referrals

__all__ = ["deadlines_table", "lateness", "referrals"]


def lateness(seconds: float) -> str:
    """``2d 3h``, ``4h 05m``, ``12m 30s``, ``0.4s``: how late, to the unit that matters."""
    delta = timedelta(seconds=seconds)
    days, rest = delta.days, delta.seconds
    hours, minutes, secs = rest // 3600, rest % 3600 // 60, rest % 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.1f}s"


def _late(deadline: DeadlineView) -> str:
    if deadline.late_by_seconds is None:
        return ""
    still = "" if deadline.met_late_at else " (still)"
    return f"{lateness(deadline.late_by_seconds)}{still}"


def deadlines_table(reply: ReferralsReply, *, title: str) -> Table:
    """One row per referral stage: who owes it, when it was due, and how late it is."""
    table = Table(title=title)
    columns = ("referral", "case", "kind", "stage", "late party", "due (UTC)", "late by", "rule")
    for column in columns:
        table.add_column(column)
    for deadline in reply.deadlines:
        table.add_row(
            deadline.referral_id,
            deadline.case_id,
            deadline.kind.value,
            f"{deadline.stage.value} ({deadline.period})",
            deadline.late_party,
            due_text(deadline),
            _late(deadline) or deadline.status,
            deadline.rule_version or "",
        )
    return table


def referrals(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="only deadlines that were missed")
    ] = False,
    as_agency: Annotated[
        str, typer.Option("--as", help="ask as this agency (need-to-know applies)")
    ] = COORDINATOR,
    as_json: JsonOption = False,
) -> None:
    """List referral deadlines (asks the coordinator over NATS, as the operator)."""
    console = Console(soft_wrap=True)
    settings = Settings()

    async def ask() -> ReferralsReply:
        async with operator_client(
            settings, name="ipbus-cli", as_agency=asking_as(as_agency)
        ) as nc:
            return await query_referrals(nc, requester=as_agency, overdue_only=overdue)

    reply = run_on_bus(ask())
    if as_json:  # the coordinator's ReferralsReply as it came
        print_json(reply)
        raise typer.Exit(code=1 if reply.error else 0)
    if reply.error:
        console.print(f"[red]{reply.error}[/red]")
        raise typer.Exit(code=1)
    what = "Overdue referral deadlines" if overdue else "Referral deadlines"
    console.print(deadlines_table(reply, title=f"{what} visible to {as_agency}"))
    if not reply.deadlines:
        console.print("none")
