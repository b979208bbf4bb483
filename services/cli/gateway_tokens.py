"""``ipbus gateway-token``: one named, scoped token per agency system, stored hashed.

``add NAME --scope submit --scope read_inbox`` makes a token (or rotates NAME's), prints it
once and writes only its SHA-256 to ``IPBUS_GATEWAY_TOKENS_PATH``; ``remove NAME`` revokes
it; ``list`` shows names and scopes. A running gateway reads the file again when it changes.
"""

from pathlib import Path
from typing import Annotated

import typer

from services.gateway import Scope, add_token, read_tokens, remove_token
from services.runtime.identity import Settings

__all__ = ["gateway_token_app"]

gateway_token_app = typer.Typer(
    help="Named, scoped gateway tokens for an agency's systems.", no_args_is_help=True
)

TokensFile = Annotated[
    Path | None, typer.Option("--file", help="default: IPBUS_GATEWAY_TOKENS_PATH")
]


def _path(file: Path | None) -> Path:
    path = file or Settings().gateway_tokens_path
    if path is None:
        raise typer.BadParameter("set IPBUS_GATEWAY_TOKENS_PATH or pass --file")
    return path


@gateway_token_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="the system's name, as logged")],
    scope: Annotated[list[Scope], typer.Option(help="what it may do (repeat)")],
    file: TokensFile = None,
) -> None:
    """Make (or rotate) NAME's token; printed once, stored hashed."""
    token = add_token(_path(file), name, [s.value for s in scope])
    typer.echo(token)


@gateway_token_app.command("remove")
def remove(name: str, file: TokensFile = None) -> None:
    """Revoke NAME's token."""
    if not remove_token(_path(file), name):
        raise typer.Exit(1)


@gateway_token_app.command("list")
def list_tokens(file: TokensFile = None) -> None:
    """Names and scopes (never the tokens: only their digests are kept)."""
    path = _path(file)
    for entry in read_tokens(path) if path.exists() else []:
        typer.echo(f"{entry.name}\t{','.join(entry.scopes)}")
