"""Policy tables load into their models, and a bad value names its table and field."""

from pathlib import Path

import pytest
from pydantic import BaseModel

from services.runtime.errors import ConfigurationError
from services.runtime.policy import load_policy, policy_section


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
