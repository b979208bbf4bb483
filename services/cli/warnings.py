"""``ipbus warnings``: active warnings with delivery and acknowledgement state per agency."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.subjects import COORDINATOR
from contracts.warning_queries import WarningsReply, WarningView
from services.cli.bus import asking_as, operator_client, run_on_bus
from services.cli.render import JsonOption, print_json
from services.runtime.identity import Settings
from services.sdk import query_warnings

__all__ = ["delivery_line", "warnings_command", "warnings_table"]


def delivery_line(view: WarningView) -> list[str]:
    """One line per recipient: who, how often delivered, acknowledged or not."""
    lines = []
    for d in view.deliveries:
        state = (
            f"acknowledged {d.acknowledged_at:%Y-%m-%d %H:%M}"
            if d.acknowledged_at
            else "unacknowledged"
        )
        if d.escalated_at:
            state += ", escalated"
        if d.retraction_sent_at:
            state += ", retraction sent"
        lines.append(f"{d.agency_id} ×{d.deliveries}: {state}")
    return lines


def warnings_table(reply: WarningsReply, console: Console) -> None:
    table = Table(show_lines=True)
    for column in ("warning", "category / severity", "issuer", "state", "recipients"):
        table.add_column(column)
    for view in reply.warnings:
        table.add_row(
            f"{view.warning_id}\n{view.title}",
            f"{view.category.value}\n{view.severity.value}",
            view.issuer,
            f"{view.state}\nexpires {view.expires_at:%Y-%m-%d %H:%M}",
            "\n".join(delivery_line(view)) or "(nobody matched)",
        )
    console.print(table)


def warnings_command(
    as_agency: Annotated[
        str, typer.Option("--as", help="ask as this agency (need-to-know applies)")
    ] = COORDINATOR,
    include_inactive: Annotated[
        bool, typer.Option("--all", help="also expired and retracted warnings")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List warnings with their delivery and acknowledgement state per agency."""
    console = Console(soft_wrap=True)
    settings = Settings()

    async def main() -> WarningsReply:
        async with operator_client(
            settings, name="ipbus-cli", as_agency=asking_as(as_agency)
        ) as nc:
            return await query_warnings(nc, requester=as_agency, include_inactive=include_inactive)

    reply = run_on_bus(main())
    if as_json:  # the coordinator's WarningsReply as it came
        print_json(reply)
        raise typer.Exit(code=1 if reply.error else 0)
    if reply.error:
        console.print(f"[red]{reply.error}[/red]")
        raise typer.Exit(code=1)
    if not reply.warnings:
        console.print("no warnings")
        return
    warnings_table(reply, console)
