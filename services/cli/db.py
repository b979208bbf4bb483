"""``ipbus db upgrade|current|revision``: each service's schema, migrated by its revisions.

Development (``ipbus up``, the demo, tests) migrates at start; production (``ipbus run``)
refuses to start on an old schema and names ``ipbus db upgrade`` (docs/operations.md,
Upgrading).
"""

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.agencies import Registry
from services.cli.catalogue import CATALOGUE
from services.cli.choose import choose_service
from services.runtime.bus import ConfigurationError
from services.runtime.identity import Settings, load_registry
from services.runtime.storage import (
    current_revisions,
    histories,
    new_revision,
    schema_revisions,
    upgrade_schema,
)
from services.sdk import AgencyService, agency_database, service_class_for

__all__ = ["db_app"]

db_app = typer.Typer(
    help="Database schemas: upgrade them, see where they are.", no_args_is_help=True
)
console = Console(soft_wrap=True)

TargetArgument = Annotated[
    str | None,
    typer.Argument(help="an agency id, or a service that runs one agency (e.g. coordinator)"),
]
AllOption = Annotated[bool, typer.Option("--all", help="every agency of the registry")]


def _registry(settings: Settings) -> Registry:
    effective: Path = settings.effective_registry_path
    return load_registry(effective if effective.is_file() else settings.registry_path)


def _targets(
    settings: Settings, target: str | None, every: bool
) -> list[tuple[str, type[AgencyService]]]:
    """(agency id, service class) of each schema the command works on."""
    registry = _registry(settings)
    if every == (target is not None):
        raise ConfigurationError("name one agency (or service), or pass --all")
    if every:
        return [(a.id, service_class_for(a, CATALOGUE)) for a in registry.agencies]
    assert target is not None
    if any(a.id == target for a in registry.agencies):
        return [(target, service_class_for(registry.get(target), CATALOGUE))]
    service_cls, agency_id = choose_service(registry, target, None)
    return [(agency_id, service_cls)]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(2)


@db_app.command()
def upgrade(target: TargetArgument = None, every: AllOption = False) -> None:
    """Apply every pending migration to the schema of an agency's service (or all)."""
    settings = Settings()
    try:
        targets = _targets(settings, target, every)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None

    async def main() -> None:
        for agency_id, service_cls in targets:
            database = agency_database(settings, agency_id)
            try:
                before = await current_revisions(database)
                await upgrade_schema(database, service_cls.tables)
                after = await current_revisions(database)
            finally:
                await database.close()
            was = ", ".join(sorted(before)) or "empty"
            verb = "already at" if before == after else f"{was} →"
            console.print(f"{agency_id}: {verb} {', '.join(sorted(after))}")

    asyncio.run(main())


@db_app.command()
def current(target: TargetArgument = None, every: AllOption = False) -> None:
    """Each schema's revisions against the code's; exit 1 when one needs an upgrade."""
    settings = Settings()
    try:
        targets = _targets(settings, target, every)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None

    async def main() -> bool:
        current_everywhere = True
        for agency_id, service_cls in targets:
            database = agency_database(settings, agency_id)
            try:
                found = await current_revisions(database)
            finally:
                await database.close()
            expected = schema_revisions(service_cls.tables)
            state = "current" if found == expected else "NEEDS `ipbus db upgrade`"
            current_everywhere &= found == expected
            have = ", ".join(sorted(found)) or "empty"
            console.print(f"{agency_id}: {have} (code: {', '.join(sorted(expected))}) {state}")
        return current_everywhere

    if not asyncio.run(main()):
        raise typer.Exit(1)


@db_app.command()
def revision(
    service: Annotated[str, typer.Argument(help="the service whose tables changed")],
    message: Annotated[str, typer.Option("--message", "-m", help="what the revision does")],
    branch: Annotated[
        str | None, typer.Option(help="runtime (shared tables), or the service's own (default)")
    ] = None,
) -> None:
    """Autogenerate the next revision from the models (developers; review it before commit)."""
    classes = {cls.service_name: cls for cls in CATALOGUE.values()}
    if service not in classes:
        raise _fail(f"unknown service {service!r}; one of {', '.join(classes)}")
    tables = classes[service].tables
    own = [h.label for h in histories(tables)[1:]]
    try:
        path = new_revision(tables, branch or (own[0] if own else "runtime"), message)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    console.print(f"wrote {path}: review it (defaults, data to carry over) before committing")
