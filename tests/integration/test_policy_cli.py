"""``ipbus policy show|due|doc`` as an operator runs them: subprocesses, no bus needed."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from services.cli.policy import REFERRALS_DOC, rules_markdown, with_rules_table
from services.runtime.law import CalendarPolicy, RuleBook, load_policy, policy_section

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
IPBUS = str(Path(sys.executable).with_name("ipbus"))


def _ipbus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IPBUS, "policy", *args],
        cwd=ROOT,
        env={**os.environ, "IPBUS_POLICY_PATH": str(ROOT / "deploy" / "policy.toml")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_show_json_lists_every_rule_in_force_and_the_covered_years() -> None:
    done = _ipbus("show", "--json", "--on", "2026-03-02")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"rules", "calendar"}
    assert document["calendar"] == {"covered_years": [2026]}
    rules = {rule["name"]: rule for rule in document["rules"]}
    for rule in document["rules"]:
        assert set(rule) == {"name", "values", "source", "effective_from"}
    assert rules["customs.court_notice.ex_officio"] == {
        "name": "customs.court_notice.ex_officio",
        "values": {"amount": 50, "unit": "working_days"},
        "source": rules["customs.court_notice.ex_officio"]["source"],
        "effective_from": "2018-03-19",
    }
    assert "art. 24(2)" in rules["customs.court_notice.ex_officio"]["source"]
    assert "not law" in rules["referral.acknowledge"]["source"]
    policy = load_policy(ROOT / "deploy" / "policy.toml")
    in_force = RuleBook.from_policy(policy).all_in_force(date(2026, 3, 2))
    assert sorted(rules) == [rule.name for rule in in_force]


def test_show_lists_a_rule_only_from_the_day_it_takes_effect() -> None:
    done = _ipbus("show", "--json", "--on", "2021-07-14")
    names = {rule["name"] for rule in json.loads(done.stdout)["rules"]}
    assert "referral.decide.admin_to_criminal" in names
    assert "referral.decide.customs_to_enforcement" not in names  # from 2021-07-15


def test_show_prints_sources_and_the_calendar_for_people() -> None:
    done = _ipbus("show")
    assert done.returncode == 0, done.stderr
    assert "知识产权海关保护条例" in done.stdout
    assert "Calendar covers: 2026" in done.stdout


def test_due_prints_the_due_time_the_bus_would_set() -> None:
    done = _ipbus("due", "customs.application_and_bond", "--from", "2026-04-30T10:00", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "rule": "customs.application_and_bond",
        "rule_version": "customs.application_and_bond@2018-03-19",
        "period": "3 working days",
        "from": "2026-04-30T10:00:00+08:00",
        "due_at": "2026-05-08T16:00:00+00:00",
        "due_local": "2026-05-09T00:00:00+08:00",
    }
    text = _ipbus("due", "referral.decide.admin_to_criminal", "--from", "2026-03-02T02:00Z")
    assert text.returncode == 0, text.stderr
    assert "due 2026-03-05 16:00 UTC" in text.stdout


def test_due_past_the_covered_years_exits_non_zero_with_one_clear_line() -> None:
    done = _ipbus("due", "customs.court_notice.ex_officio", "--from", "2026-11-30T10:00")
    assert done.returncode == 3
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: customs.court_notice.ex_officio@2018-03-19: ")
    assert "covers 2026; 2027-01-01 is outside it" in line
    assert "[[calendar.year]]" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("due", "referral.nonexistent", "--from", "2026-03-02T10:00"), "no version of rule"),
        (("due", "referral_extension.decide.admin_to_criminal", "--from", "2026-03-02"), "rule"),
        (("due", "customs.investigation", "--from", "yesterday"), "not an ISO 8601"),
    ],
)
def test_due_refuses_what_it_cannot_answer_in_one_line(args: tuple[str, ...], message: str) -> None:
    done = _ipbus(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_committed_referrals_doc_carries_the_rules_table_of_the_policy_file() -> None:
    policy = load_policy(ROOT / "deploy" / "policy.toml")
    table = rules_markdown(
        RuleBook.from_policy(policy), policy_section(policy, "calendar", CalendarPolicy)
    )
    committed = (ROOT / REFERRALS_DOC).read_text(encoding="utf-8")
    assert with_rules_table(committed, table) == committed, "run `ipbus policy doc --write`"
    assert _ipbus("doc").returncode == 0
