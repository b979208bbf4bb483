"""Legal rules are dated, cited data: the version in force on the date of the act applies."""

from datetime import date

import pytest
from pydantic import BaseModel

from services.runtime.bus import ConfigurationError
from services.runtime.law import Rule, RuleBook, RuleNotInForce


def _rule(name: str, effective_from: str, **values: object) -> dict[str, object]:
    return {
        "name": name,
        "values": values,
        "source": "Some Instrument art. 1",
        "effective_from": effective_from,
    }


BOOK = RuleBook.from_policy(
    {
        "rule": [
            _rule("threshold.volume", "2025-04-26", amount="30000"),
            _rule("threshold.volume", "2011-01-11", amount="50000"),
            _rule("period.decide", "2020-08-07", amount=3),
        ]
    }
)


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2011, 1, 11), "50000"),  # the first day of the old version
        (date(2025, 4, 25), "50000"),  # the last day before the new one
        (date(2025, 4, 26), "30000"),  # the new one's first day
        (date(2030, 1, 1), "30000"),
    ],
)
def test_the_version_in_force_on_the_date_of_the_act_applies(on: date, expected: str) -> None:
    assert BOOK.in_force("threshold.volume", on).values["amount"] == expected


def test_an_act_before_any_version_took_effect_is_refused_not_guessed() -> None:
    with pytest.raises(RuleNotInForce, match=r"threshold\.volume.*2011-01-10"):
        BOOK.in_force("threshold.volume", date(2011, 1, 10))
    with pytest.raises(RuleNotInForce):
        BOOK.in_force("no.such.rule", date(2025, 1, 1))


def test_a_decision_records_the_version_it_applied() -> None:
    assert BOOK.in_force("threshold.volume", date(2026, 1, 1)).version == (
        "threshold.volume@2025-04-26"
    )


def test_all_in_force_lists_one_version_per_rule() -> None:
    in_force = BOOK.all_in_force(date(2026, 1, 1))
    assert [(rule.name, rule.values) for rule in in_force] == [
        ("period.decide", {"amount": 3}),
        ("threshold.volume", {"amount": "30000"}),
    ]
    assert [rule.name for rule in BOOK.all_in_force(date(2015, 1, 1))] == ["threshold.volume"]


def test_a_rule_without_its_source_or_date_is_a_configuration_error() -> None:
    unsourced = {"name": "x", "values": {}, "effective_from": "2020-01-01"}
    with pytest.raises(ConfigurationError, match=r"\[\[rule\]\] x \[source\]"):
        RuleBook.from_policy({"rule": [unsourced]})
    undated = {"name": "y", "values": {}, "source": "Some Instrument art. 2"}
    with pytest.raises(ConfigurationError, match=r"\[\[rule\]\] y \[effective_from\]"):
        RuleBook.from_policy({"rule": [undated]})


def test_two_versions_on_one_day_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="two versions on the same day"):
        RuleBook.from_policy({"rule": [_rule("x", "2020-01-01"), _rule("x", "2020-01-01")]})


class _Period(BaseModel):
    amount: int


def test_values_are_checked_against_their_model_naming_the_rule() -> None:
    rule = Rule.model_validate(_rule("p", "2020-01-01", amount="soon"))
    with pytest.raises(ConfigurationError, match=r"rule p@2020-01-01 \[amount\]"):
        rule.values_as(_Period)
    assert Rule.model_validate(_rule("p", "2020-01-01", amount=3)).values_as(_Period).amount == 3


def test_an_override_replaces_every_version_of_the_rules_it_names() -> None:
    demo = RuleBook.from_policy({"rule": [_rule("period.decide", "2000-01-01", amount=1)]})
    merged = BOOK.overridden_by(demo)
    assert merged.versions("period.decide")[0].values == {"amount": 1}
    assert len(merged.versions("threshold.volume")) == 2
