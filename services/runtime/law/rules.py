"""Legal rules as dated, cited data: the version in force on the date of the act.

A legal figure (a period, a threshold, a window) is a *rule*: a name, its values, the
instrument and article it comes from, and the date that text took effect. The policy file
lists rules as ``[[rule]]`` tables; several versions of one rule may coexist (a law amended,
a new judicial interpretation), and the bus applies the version in force on the relevant
date — the date of the act (the transfer, the detention, the application), never today:

.. code-block:: toml

    [[rule]]
    name = "referral.decide.admin_to_criminal"
    values = { amount = 3, unit = "calendar_days" }
    source = "行政执法机关移送涉嫌犯罪案件的规定 (State Council Decree 310, rev. 2020) art. 8"
    effective_from = 2020-08-07

Each decision a rule drives records :attr:`Rule.version` (``name@effective_from``), so an
auditor can tell which text decided it. Pure: a mapping in, rules out; no I/O.

>>> book = RuleBook.from_policy({"rule": [
...     {"name": "t", "values": {"n": 1}, "source": "Act art. 1", "effective_from": "2020-01-01"},
...     {"name": "t", "values": {"n": 2}, "source": "Act art. 1 (rev.)",
...      "effective_from": "2025-04-26"},
... ]})
>>> book.in_force("t", date(2025, 4, 25)).values, book.in_force("t", date(2025, 4, 26)).values
({'n': 1}, {'n': 2})
>>> book.in_force("t", date(2025, 4, 26)).version
't@2025-04-26'
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.runtime.bus.errors import ConfigurationError, IpbusError

__all__ = ["Rule", "RuleBook", "RuleNotInForce"]

ModelT = TypeVar("ModelT", bound=BaseModel)

RULE_NAME_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"


class RuleNotInForce(IpbusError):
    """No version of a rule was in force on the date asked about: never guess one."""

    def __init__(self, name: str, on: date) -> None:
        super().__init__(f"no version of rule {name!r} is in force on {on.isoformat()}")
        self.name = name
        self.on = on


class Rule(BaseModel):
    """One version of one legal rule, with where it comes from and since when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=RULE_NAME_PATTERN)
    values: dict[str, Any]
    source: str = Field(min_length=8)
    """Instrument and article, e.g. ``知识产权海关保护条例 (State Council Decree 395, rev. 2018)
    art. 24``: a lawyer must be able to find the text from it."""
    effective_from: date
    """The day this version took effect; it governs acts on or after that day."""
    note: str = ""

    @property
    def version(self) -> str:
        """What a decision records: the rule and the version it applied."""
        return f"{self.name}@{self.effective_from.isoformat()}"

    def values_as(self, model: type[ModelT]) -> ModelT:
        """The values checked against ``model``; a bad value names the rule and field."""
        try:
            return model.model_validate(self.values)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "(values)"
            raise ConfigurationError(f"rule {self.version} [{where}]: {first['msg']}") from exc


class RuleBook:
    """Every version of every rule, looked up by name and the date of the act."""

    def __init__(self, rules: list[Rule]) -> None:
        versions: dict[str, list[Rule]] = defaultdict(list)
        for rule in rules:
            versions[rule.name].append(rule)
        for name, listed in versions.items():
            listed.sort(key=lambda rule: rule.effective_from)
            days = [rule.effective_from for rule in listed]
            if len(set(days)) != len(days):
                raise ConfigurationError(f"rule {name!r} has two versions on the same day")
        self._versions = dict(versions)

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> "RuleBook":
        """The ``[[rule]]`` tables of a policy file; a malformed one fails naming it."""
        rules = []
        for index, table in enumerate(policy.get("rule", [])):
            try:
                rules.append(Rule.model_validate(table))
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"])
                name = table.get("name", f"#{index + 1}") if isinstance(table, Mapping) else index
                raise ConfigurationError(
                    f"policy [[rule]] {name} [{where}]: {first['msg']}"
                ) from exc
        return cls(rules)

    def __contains__(self, name: object) -> bool:
        return name in self._versions

    def __iter__(self) -> Iterator[Rule]:
        """Every version of every rule, by name then date."""
        for name in sorted(self._versions):
            yield from self._versions[name]

    def versions(self, name: str) -> list[Rule]:
        """All versions of ``name``, oldest first (empty if the book has none)."""
        return list(self._versions.get(name, ()))

    def in_force(self, name: str, on: date) -> Rule:
        """The version of ``name`` in force on ``on``, or :class:`RuleNotInForce`."""
        current = None
        for rule in self._versions.get(name, ()):
            if rule.effective_from <= on:
                current = rule
        if current is None:
            raise RuleNotInForce(name, on)
        return current

    def all_in_force(self, on: date) -> list[Rule]:
        """One version per rule: those in force on ``on`` (rules not yet in force left out)."""
        found = []
        for name in sorted(self._versions):
            try:
                found.append(self.in_force(name, on))
            except RuleNotInForce:
                continue
        return found

    def overridden_by(self, other: "RuleBook") -> "RuleBook":
        """This book with every rule ``other`` names replaced by ``other``'s versions
        (the demo's short deadlines over the real ones)."""
        kept = [rule for rule in self if rule.name not in other]
        return RuleBook([*kept, *other])
