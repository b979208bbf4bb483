"""``ipbus specs check``: the committed schemas and AsyncAPI document match the code, and the
check fails when they drift or when a committed v1 contract would be broken."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from contracts.compatibility import BreakKind
from services.cli.main import app
from services.cli.specs import ASYNCAPI_PATH, REGISTRY_PATH, check_specs, generated_files

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The committed generated files and registry, in a scratch repository root."""
    for part in ("contracts/schemas", ASYNCAPI_PATH, REGISTRY_PATH):
        source, target = REPO / part, tmp_path / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return tmp_path


def test_the_committed_documents_are_what_the_code_generates() -> None:
    report = check_specs(REPO)
    assert report.lines() == []
    assert CliRunner().invoke(app, ["specs", "check", "--root", str(REPO)]).exit_code == 0


def test_an_edited_asyncapi_document_is_reported_as_drift(copy: Path) -> None:
    path = copy / ASYNCAPI_PATH
    path.write_text(path.read_text().replace("ipbus.v1.>", "ipbus.v2.>"))
    report = check_specs(copy)
    assert report.drifted == [Path(ASYNCAPI_PATH)]
    result = CliRunner().invoke(app, ["specs", "check", "--root", str(copy)])
    assert result.exit_code == 1
    assert "out of date: docs/asyncapi.yaml" in result.output


def test_a_new_agency_in_the_registry_changes_the_asyncapi_document(copy: Path) -> None:
    registry = copy / REGISTRY_PATH
    registry.write_text(
        registry.read_text() + '\n[[agencies]]\nid = "notary-pudong"\nkind = "enforcement"\n'
        'region = "310115"\nname = "Pudong Notary Office"\n'
    )
    assert check_specs(copy).drifted == [Path(ASYNCAPI_PATH)]
    assert "agency-notary-pudong" in generated_files(copy)[Path(ASYNCAPI_PATH)]


def test_a_committed_field_the_code_no_longer_has_is_a_breaking_change(copy: Path) -> None:
    path = copy / "contracts/schemas/events/ipbus.case.closed.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["closed_by"] = {"type": "string"}
    path.write_text(json.dumps(schema))
    report = check_specs(copy)
    [found] = report.breaks["events/ipbus.case.closed.v1.json"]
    assert found.kind is BreakKind.REMOVED_FIELD
    assert found.path == "closed_by"


def _need_parser() -> None:
    if not (REPO / "tools/asyncapi/node_modules/@asyncapi/parser").exists():
        if os.environ.get("CI"):
            pytest.fail("the AsyncAPI parser is not installed under CI")
        pytest.skip("run `npm ci --prefix tools/asyncapi` (make lint does)")


def test_the_committed_asyncapi_document_is_valid_for_the_official_parser() -> None:
    """The same node script CI runs (skipped only when npm ci has not been run)."""
    _need_parser()
    run = subprocess.run(
        ["node", "tools/asyncapi/validate.mjs", ASYNCAPI_PATH],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    document = yaml.safe_load((REPO / ASYNCAPI_PATH).read_text())
    assert document["asyncapi"] == "3.0.0"


def test_the_parser_script_rejects_a_broken_document(tmp_path: Path) -> None:
    _need_parser()
    broken = yaml.safe_load((REPO / ASYNCAPI_PATH).read_text())
    del broken["info"]
    path = tmp_path / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(broken))
    run = subprocess.run(
        ["node", str(REPO / "tools/asyncapi/validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
