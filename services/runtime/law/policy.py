"""Policy: the numbers the law and the agencies agree on, kept out of code.

``deploy/policy.toml`` holds one table per concern (deadlines, warnings, linkage, ...).
Each service reads only its own tables into its own pydantic model, so a typo fails at
start-up with the table and field named, never at the first message.
"""

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.runtime.bus.errors import ConfigurationError
from services.runtime.law.business_calendar import BusinessCalendar, CalendarPolicy

__all__ = ["load_policy", "policy_calendar", "policy_section"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_policy(path: Path) -> dict[str, Any]:
    """The whole policy file as TOML tables.

    A file with ``extends = "other.toml"`` (relative to the file) is that file with this
    one's tables over it: each top-level table replaces the other's, and each ``[[rule]]``
    replaces every version of the rule of the same name (the demo's short periods over the
    real ones).
    """
    policy = _read(path)
    base_name = policy.pop("extends", None)
    if base_name is None:
        return policy
    base = load_policy(path.parent / str(base_name))
    names = {rule.get("name") for rule in policy.get("rule", []) if isinstance(rule, Mapping)}
    kept = [rule for rule in base.get("rule", []) if rule.get("name") not in names]
    return {**base, **policy, "rule": [*kept, *policy.get("rule", [])]}


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"policy file {path} not found (set IPBUS_POLICY_PATH)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"policy file {path}: {exc}") from exc


def policy_section(policy: Mapping[str, Any], section: str, model: type[ModelT]) -> ModelT:
    """Table ``section`` (dotted for nested tables) validated as ``model``; absent = defaults."""
    table: Any = policy
    for key in section.split("."):
        table = table.get(key, {}) if isinstance(table, Mapping) else {}
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join([section, *(str(part) for part in first["loc"])])
        raise ConfigurationError(f"policy [{where}]: {first['msg']}") from exc


def policy_calendar(policy: Mapping[str, Any]) -> BusinessCalendar:
    """The business calendar of table ``[calendar]`` (its offset, holidays, working weekends)."""
    return policy_section(policy, "calendar", CalendarPolicy).calendar()
