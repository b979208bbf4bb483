"""``ipbus referrals [--overdue]``: referral deadlines, who is late and by how long."""

import asyncio
from datetime import timedelta
from typing import Annotated

import nats
import typer
from rich.console import Console
from rich.table import Table

from contracts.referral_queries import DeadlineView, ReferralsReply
from contracts.subjects import COORDINATOR
from services.cli.render import due_text
from services.runtime.errors import RetryableError
from services.runtime.referral_queries import query_referrals
from services.runtime.settings import Settings

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
) -> None:
    """List referral deadlines (asks the coordinator over NATS; needs IPBUS_NATS_URL)."""
    console = Console(soft_wrap=True)
    nats_url = Settings().nats_url
    if nats_url is None:
        console.print("[red]error:[/red] set IPBUS_NATS_URL to the bus's NATS server")
        raise typer.Exit(code=2)

    async def ask() -> ReferralsReply:
        nc = await nats.connect(nats_url, name="ipbus-cli")
        try:
            return await query_referrals(nc, requester=as_agency, overdue_only=overdue)
        finally:
            await nc.close()

    try:
        reply = asyncio.run(ask())
    except RetryableError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    if reply.error:
        console.print(f"[red]{reply.error}[/red]")
        raise typer.Exit(code=1)
    what = "Overdue referral deadlines" if overdue else "Referral deadlines"
    console.print(deadlines_table(reply, title=f"{what} visible to {as_agency}"))
    if not reply.deadlines:
        console.print("none")
