"""``promtool``: the rules and scrape configuration load, and the rule unit tests pass."""

import subprocess

import pytest

from tests.conftest import REPO
from tests.deploy.prometheus_server import prometheus_binary

PROMETHEUS = REPO / "deploy" / "prometheus"


def _promtool(*args: str) -> str:
    done = subprocess.run(
        [prometheus_binary("promtool"), *args],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rules_are_valid() -> None:
    assert "SUCCESS: 16 rules found" in _promtool("check", "rules", "rules/ipbus.rules.yml")


def test_scrape_configuration_is_valid() -> None:
    _promtool("check", "config", "prometheus.yml")


@pytest.mark.parametrize("test_file", sorted(p.name for p in (PROMETHEUS / "tests").glob("*.yml")))
def test_rule_unit_tests_pass(test_file: str) -> None:
    assert "SUCCESS" in _promtool("test", "rules", f"tests/{test_file}")
