"""Policy tables load into their models, and a bad value names its table and field."""

from pathlib import Path

import pytest
from pydantic import BaseModel

from services.runtime.bus import ConfigurationError
from services.runtime.law import load_policy, policy_section


class _Window(BaseModel):
    hours: int = 24
    working_days: bool = False


def test_a_nested_table_loads_into_its_model_and_a_missing_one_gives_defaults(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[deadlines.acknowledge]\nhours = 12\nworking_days = true\n")
    policy = load_policy(path)
    assert policy_section(policy, "deadlines.acknowledge", _Window) == _Window(
        hours=12, working_days=True
    )
    assert policy_section(policy, "deadlines.decide", _Window) == _Window()


def test_a_bad_value_fails_naming_the_table_and_field(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[deadlines.acknowledge]\nhours = "soon"\n')
    with pytest.raises(ConfigurationError, match=r"policy \[deadlines\.acknowledge\.hours\]"):
        policy_section(load_policy(path), "deadlines.acknowledge", _Window)


def test_a_missing_or_broken_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_policy(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[deadlines\n")
    with pytest.raises(ConfigurationError, match=r"broken\.toml"):
        load_policy(broken)


def test_the_committed_policy_file_parses() -> None:
    assert isinstance(load_policy(Path(__file__).parents[2] / "deploy" / "policy.toml"), dict)


def test_a_policy_that_extends_another_replaces_its_tables_and_rules_by_name(
    tmp_path: Path,
) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        "[calendar]\nutc_offset_hours = 8\n[referral_deadlines]\nwatch_seconds = 30\n"
        '[[rule]]\nname = "a"\nvalues = { n = 1 }\nsource = "Act art. 1"\n'
        "effective_from = 2020-01-01\n"
        '[[rule]]\nname = "a"\nvalues = { n = 2 }\nsource = "Act art. 1 (rev.)"\n'
        "effective_from = 2025-01-01\n"
        '[[rule]]\nname = "b"\nvalues = { n = 3 }\nsource = "Act art. 2"\n'
        "effective_from = 2020-01-01\n"
    )
    demo = tmp_path / "demo.toml"
    demo.write_text(
        'extends = "base.toml"\n[referral_deadlines]\nwatch_seconds = 0.5\n'
        '[[rule]]\nname = "a"\nvalues = { n = 9 }\nsource = "demo, not law"\n'
        "effective_from = 2000-01-01\n"
    )
    merged = load_policy(demo)
    assert merged["calendar"] == {"utc_offset_hours": 8}
    assert merged["referral_deadlines"] == {"watch_seconds": 0.5}
    assert [(r["name"], r["values"]) for r in merged["rule"]] == [("b", {"n": 3}), ("a", {"n": 9})]
    assert "extends" not in merged
