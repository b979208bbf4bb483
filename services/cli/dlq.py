"""``ipbus dlq list|show|replay``: look at dead letters and, after a fix, replay them."""

import asyncio
import json
from typing import Annotated

import nats
import typer
from rich.console import Console
from rich.table import Table

from services.runtime.dead_letters import DeadLetter, dead_letter_at, read_dead_letters, replay
from services.runtime.settings import Settings, server_list

__all__ = ["dlq_app"]

dlq_app = typer.Typer(help="Inspect and replay dead letters (IPBUS_DLQ).", no_args_is_help=True)
console = Console(soft_wrap=True)

ConsumerOption = Annotated[
    str | None, typer.Option(help="only letters refused by this consumer (e.g. coordinator)")
]
ReasonOption = Annotated[str | None, typer.Option(help="only letters with this reason")]


def _nats_url() -> str:
    url = Settings().nats_url
    if url is None:
        console.print("[red]error:[/red] set IPBUS_NATS_URL to the bus's NATS server")
        raise typer.Exit(code=2)
    return url


@dlq_app.command("list")
def list_letters(consumer: ConsumerOption = None, reason: ReasonOption = None) -> None:
    """One line per dead letter: sequence, time, consumer, reason, original subject."""

    async def main() -> list[DeadLetter]:
        nc = await nats.connect(server_list(_nats_url()), name="ipbus-dlq")
        try:
            js = nc.jetstream()
            return [
                letter async for letter in read_dead_letters(js, consumer=consumer, reason=reason)
            ]
        finally:
            await nc.close()

    letters = asyncio.run(main())
    table = Table("seq", "time", "consumer", "reason", "original subject", "detail")
    for letter in letters:
        table.add_row(
            str(letter.seq),
            letter.time.isoformat(timespec="seconds") if letter.time else "?",
            letter.consumer,
            letter.reason,
            letter.original_subject,
            letter.detail[:80],
        )
    console.print(table)
    console.print(f"{len(letters)} dead letter(s)")


@dlq_app.command("show")
def show(seq: int) -> None:
    """Everything about one dead letter: its headers and its original body."""

    async def main() -> DeadLetter | None:
        nc = await nats.connect(server_list(_nats_url()), name="ipbus-dlq")
        try:
            return await dead_letter_at(nc.jetstream(), seq)
        finally:
            await nc.close()

    letter = asyncio.run(main())
    if letter is None:
        console.print(f"[red]no dead letter {seq}[/red]")
        raise typer.Exit(code=1)
    for key, value in sorted(letter.headers.items()):
        console.print(f"[bold]{key}[/bold]: {value}", markup=True, highlight=False)
    try:
        body = json.dumps(json.loads(letter.body), indent=2, ensure_ascii=False)
    except ValueError:
        body = repr(letter.body[:2000])
    print(body)


@dlq_app.command("replay")
def replay_letters(
    seqs: Annotated[list[int] | None, typer.Argument(help="sequences to replay")] = None,
    all_letters: Annotated[
        bool, typer.Option("--all", help="replay every letter (filters apply)")
    ] = False,
    consumer: ConsumerOption = None,
    reason: ReasonOption = None,
    keep: Annotated[bool, typer.Option(help="keep the letters on IPBUS_DLQ")] = False,
) -> None:
    """Publish letters again on their original subject, for the consumer that refused them."""
    if not seqs and not all_letters:
        console.print("[red]error:[/red] name sequences to replay, or --all")
        raise typer.Exit(code=2)

    async def main() -> int:
        nc = await nats.connect(server_list(_nats_url()), name="ipbus-dlq")
        try:
            js = nc.jetstream()
            if all_letters:
                letters = [
                    letter
                    async for letter in read_dead_letters(js, consumer=consumer, reason=reason)
                ]
            else:
                letters = []
                for seq in seqs or []:
                    letter = await dead_letter_at(js, seq)
                    if letter is None:
                        console.print(f"[red]no dead letter {seq}[/red]")
                        return 1
                    letters.append(letter)
            for letter in letters:
                new_seq = await replay(js, letter, keep=keep)
                console.print(
                    f"replayed {letter.seq} ({letter.reason}) to {letter.original_subject} "
                    f"for {letter.consumer} as IPBUS seq {new_seq}"
                )
            console.print(f"{len(letters)} dead letter(s) replayed")
            return 0
        finally:
            await nc.close()

    code = asyncio.run(main())
    if code:
        raise typer.Exit(code=code)
