"""``ipbus specs``: the generated contract documents — write them, or check code against them.

Two kinds of file are generated from code and committed: the JSON Schemas of every contract
(``contracts/schemas/``) and the AsyncAPI document of the bus (``docs/asyncapi.yaml``).
``check`` fails when a v1 contract changed incompatibly (against the committed schemas) or
when any committed file differs from what the code generates now.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from contracts.compatibility import Break, catalogue_breaks
from contracts.contract_schemas import SCHEMA_FILES_DIR, contract_schemas
from services.cli.catalogue import CATALOGUE
from services.runtime.identity import load_registry
from services.sdk import bus_asyncapi, service_class_for, unconnected_services

__all__ = ["ASYNCAPI_PATH", "SpecReport", "check_specs", "generated_files", "specs_app"]

ASYNCAPI_PATH = "docs/asyncapi.yaml"
REGISTRY_PATH = "deploy/agencies.toml"

specs_app = typer.Typer(help="Generated contract documents: JSON Schemas and AsyncAPI.")


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def asyncapi_yaml(root: Path) -> str:
    """The AsyncAPI document of the bus that ``root``'s registry describes."""
    registry = load_registry(root / REGISTRY_PATH)
    services = unconnected_services(registry, lambda a: service_class_for(a, CATALOGUE))
    document = bus_asyncapi(services)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def generated_files(root: Path) -> dict[Path, str]:
    """Every generated file (path relative to ``root``) and its content as code makes it."""
    files = {
        Path(SCHEMA_FILES_DIR) / name: _json(schema) for name, schema in contract_schemas().items()
    }
    files[Path(ASYNCAPI_PATH)] = asyncapi_yaml(root)
    return files


def committed_schemas(root: Path) -> dict[str, dict[str, Any]]:
    base = root / SCHEMA_FILES_DIR
    return {
        path.relative_to(base).as_posix(): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(base.rglob("*.json"))
    }


@dataclass
class SpecReport:
    """What ``ipbus specs check`` found; ``ok`` when nothing."""

    breaks: dict[str, list[Break]] = field(default_factory=dict)
    drifted: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.drifted

    def lines(self) -> list[str]:
        out = [f"incompatible change to {n}: {b}" for n, bs in self.breaks.items() for b in bs]
        out += [f"out of date: {path} (run `ipbus specs write`)" for path in self.drifted]
        return out


def check_specs(root: Path) -> SpecReport:
    """Compatibility against the committed schemas, then drift of every generated file."""
    report = SpecReport(breaks=catalogue_breaks(committed_schemas(root), contract_schemas()))
    expected = generated_files(root)
    for path, content in expected.items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            report.drifted.append(path)
    for stale in (root / SCHEMA_FILES_DIR).rglob("*.json"):
        if stale.relative_to(root) not in expected:
            report.drifted.append(stale.relative_to(root))
    return report


def write_specs(root: Path) -> list[Path]:
    """Regenerate every file; stale schema files (contracts that no longer exist) go."""
    expected = generated_files(root)
    for stale in (root / SCHEMA_FILES_DIR).rglob("*.json"):
        if stale.relative_to(root) not in expected:
            stale.unlink()
    for path, content in expected.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content, encoding="utf-8")
    return sorted(expected)


Root = Annotated[Path, typer.Option(help="repository root")]


@specs_app.command("write")
def write(root: Root = Path(".")) -> None:
    """Regenerate contracts/schemas/ and docs/asyncapi.yaml from the code."""
    report = SpecReport(breaks=catalogue_breaks(committed_schemas(root), contract_schemas()))
    for line in report.lines():
        typer.echo(f"warning: {line}", err=True)
    written = write_specs(root)
    typer.echo(f"wrote {len(written)} files")


@specs_app.command("check")
def check(root: Root = Path(".")) -> None:
    """Fail on an incompatible change to a v1 contract or a generated file out of date."""
    report = check_specs(root)
    for line in report.lines():
        typer.echo(line, err=True)
    if not report.ok:
        raise typer.Exit(code=1)
    typer.echo("contracts compatible; generated documents up to date")
