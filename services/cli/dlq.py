"""``ipbus dlq list|show|replay``: look at dead letters and, after a fix, replay them."""

import base64
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contracts.agencies import Registry
from services.cli.bus import operator_client, run_on_bus
from services.cli.render import JsonOption, print_json
from services.runtime.bus import (
    DeadLetter,
    LetterRefused,
    dead_letter_at,
    read_dead_letters,
    replay,
)
from services.runtime.identity import Settings, load_registry

__all__ = ["dlq_app"]

dlq_app = typer.Typer(help="Inspect and replay dead letters (IPBUS_DLQ).", no_args_is_help=True)
console = Console(soft_wrap=True)

ConsumerOption = Annotated[
    str | None, typer.Option(help="only letters refused by this consumer (e.g. coordinator)")
]
ReasonOption = Annotated[str | None, typer.Option(help="only letters with this reason")]


def _registry(settings: Settings) -> Registry:
    """The keys letters are checked against: the effective registry ``ipbus up`` wrote."""
    effective: Path = settings.effective_registry_path
    return load_registry(effective if effective.is_file() else settings.registry_path)


def letter_document(letter: DeadLetter, *, with_body: bool) -> dict[str, Any]:
    """A dead letter for a script: its fields and headers; with the body, as JSON when it is
    JSON (``body``), else base64 (``body_base64``)."""
    document: dict[str, Any] = {
        "seq": letter.seq,
        "time": letter.time,
        "consumer": letter.consumer,
        "reason": letter.reason,
        "detail": letter.detail,
        "original_subject": letter.original_subject,
        "original_seq": letter.original_seq,
        "stored_subject": letter.stored_subject,
        "headers": letter.headers,
    }
    if with_body:
        try:
            document["body"] = json.loads(letter.body)
        except ValueError:
            document["body_base64"] = base64.b64encode(letter.body).decode("ascii")
    return document


@dlq_app.command("list")
def list_letters(
    consumer: ConsumerOption = None, reason: ReasonOption = None, as_json: JsonOption = False
) -> None:
    """One line per dead letter: sequence, time, consumer, reason, original subject."""

    async def main() -> list[DeadLetter]:
        async with operator_client(Settings(), name="ipbus-dlq") as nc:
            js = nc.jetstream()
            return [
                letter async for letter in read_dead_letters(js, consumer=consumer, reason=reason)
            ]

    letters = run_on_bus(main())
    if as_json:
        print_json({"dead_letters": [letter_document(x, with_body=False) for x in letters]})
        return
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
def show(seq: int, as_json: JsonOption = False) -> None:
    """Everything about one dead letter: its headers and its original body."""

    async def main() -> DeadLetter | None:
        async with operator_client(Settings(), name="ipbus-dlq") as nc:
            return await dead_letter_at(nc.jetstream(), seq)

    letter = run_on_bus(main())
    if as_json:
        if letter is None:
            print_json({"error": f"no dead letter {seq}"})
            raise typer.Exit(code=1)
        print_json(letter_document(letter, with_body=True))
        return
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
    """Publish letters again, as the operator, for the consumer that refused them.

    A letter this bus could not have written itself (its consumer, original subject and
    signed body disagree) is refused with the reason and not replayed (exit 1)."""
    if not seqs and not all_letters:
        console.print("[red]error:[/red] name sequences to replay, or --all")
        raise typer.Exit(code=2)
    settings = Settings()

    async def main() -> int:
        registry = _registry(settings)
        async with operator_client(settings, name="ipbus-dlq") as nc:
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
            replayed = refused = 0
            for letter in letters:
                try:
                    new_seq = await replay(js, letter, registry, keep=keep)
                except LetterRefused as exc:
                    console.print(f"[red]not replayed:[/red] {exc}", highlight=False)
                    refused += 1
                    continue
                replayed += 1
                console.print(
                    f"replayed {letter.seq} ({letter.reason}) to {letter.original_subject} "
                    f"for {letter.consumer} as IPBUS seq {new_seq}"
                )
            console.print(f"{replayed} dead letter(s) replayed")
            if refused:
                console.print(f"[red]{refused} dead letter(s) refused[/red]")
            return 1 if refused else 0

    code = run_on_bus(main())
    if code:
        raise typer.Exit(code=code)
