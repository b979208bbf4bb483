"""Every alert points at its runbook (issue 17 part 6): a ``runbook_url`` naming a section of
docs/operations.md that exists; and Alertmanager's configuration routes both severities."""

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.dashboards import RULES

OPERATIONS = REPO / "docs" / "operations.md"
ALERTMANAGER = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return anchors


def _alerts() -> list[dict[str, object]]:
    alerts = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            alerts += [rule for rule in group["rules"] if "alert" in rule]
    return alerts


def test_the_anchor_rule_is_githubs() -> None:
    assert _anchors("## Following a trace\n### IpbusLoopStalled\n") == {
        "following-a-trace",
        "ipbusloopstalled",
    }


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: str(a["alert"]))
def test_every_alert_has_a_runbook_section_in_operations_md(alert: dict[str, object]) -> None:
    annotations = alert["annotations"]
    assert isinstance(annotations, dict)
    url = annotations.get("runbook_url")
    assert url == f"docs/operations.md#{str(alert['alert']).lower()}", url
    anchor = str(url).split("#", 1)[1]
    assert anchor in _anchors(OPERATIONS.read_text(encoding="utf-8")), anchor


def test_operations_md_says_how_to_upgrade_and_follow_a_trace() -> None:
    anchors = _anchors(OPERATIONS.read_text(encoding="utf-8"))
    assert {"upgrading", "following-a-referral-across-agencies"} <= anchors


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")
@pytest.mark.parametrize("severity", ["page", "ticket"])
def test_alertmanager_config_is_valid_and_routes_each_severity(severity: str) -> None:
    checked = subprocess.run(
        ["amtool", "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    route_test = ["amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}"]
    routed = subprocess.run(
        [*route_test, f"severity={severity}", "alertname=IpbusLoopStalled"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.strip() == severity
