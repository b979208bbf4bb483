"""``ipbus new-adapter`` on a copy of this repository: the generated adapter is registered,
keeps every house rule, and its generated tests pass unchanged — no existing service edited."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _copy_of_the_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        source = REPO / name
        if name.startswith("tools/asyncapi/node_modules") or not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(source.read_bytes())


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((root / "services").rglob("*.py"))
    }


def _run(root: Path, *command: str, timeout: float = 180) -> str:
    done = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = f"{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{' '.join(command)}\n{output}"
    return done.stdout


@pytest.mark.timeout(400)
def test_a_scaffolded_adapter_is_registered_and_its_tests_pass_unchanged(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _copy_of_the_repository(root)
    before = _digests(root)
    ipbus = "from services.cli.main import app; app()"  # this copy's code, not the installed one
    out = _run(
        root, sys.executable, "-c", ipbus, "new-adapter", "notary", "--kind", "enforcement",
        "--agency-id", "notary-pudong", "--region", "310115", "--name", "Pudong Notary Office",
    )  # fmt: skip
    assert "notary-pudong runs services.notary.app:NotaryService" in out

    after = _digests(root)
    assert {name: after[name] for name in before} == before  # no existing service edited
    new_files = sorted(set(after) - set(before))
    assert new_files == ["services/notary/__init__.py", "services/notary/app.py"]
    registry = (root / "deploy/agencies.toml").read_text()
    assert 'adapter = "services.notary.app:NotaryService"' in registry

    generated = ["tests/unit/test_notary_adapter.py", "tests/integration/test_notary_adapter.py"]
    result = _run(root, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *generated)
    assert "6 passed" in result  # 2 unit + 2 integration × (SQLite, PostgreSQL)
    _run(root, str(BIN / "ruff"), "check", ".")
    _run(root, str(BIN / "ruff"), "format", "--check", ".")
    _run(root, str(BIN / "lint-imports"))
    if (REPO / ".mypy_cache").is_dir():  # third-party types checked once, not again here
        shutil.copytree(REPO / ".mypy_cache", root / ".mypy_cache")
    _run(root, str(BIN / "mypy"), "services/notary", *generated)
    assert "agency-notary-pudong" in (root / "docs/asyncapi.yaml").read_text()


def test_scaffolding_refuses_a_name_already_taken(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _copy_of_the_repository(root)
    ipbus = "from services.cli.main import app; app()"
    done = subprocess.run(
        [sys.executable, "-c", ipbus, "new-adapter", "mediation", "--kind", "mediation",
         "--agency-id", "mediation-pudong"],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "services/mediation already exists" in done.stderr
    registry = (root / "deploy/agencies.toml").read_text()
    assert registry == (REPO / "deploy/agencies.toml").read_text()
