"""Criminal thresholds of deploy/policy.toml, pinned to the texts, row by row and at each edge.

法释〔2025〕5号 (in force 2025-04-26) art. 3 (Criminal Law art. 213) and art. 5 (art. 214);
before it, 法释〔2004〕19号 arts. 1-2 with 法释〔2007〕6号 art. 6 (units), and the 2010
prosecution standards art. 70 for unsold goods. The version applied is the one in force on
the date of the act.
"""

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts.oversight import CaseFindings, Offence, Offender
from services.runtime.bus import ConfigurationError
from services.runtime.law import (
    RuleBook,
    ThresholdUnassessable,
    check_threshold_rules,
    crossed_threshold,
    load_policy,
)
from tests.unit.builders import cny

DEPLOY = Path(__file__).parents[2] / "deploy"
BOOK = RuleBook.from_policy(load_policy(DEPLOY / "policy.toml"))

NEW = date(2025, 4, 26)  # 法释〔2025〕5号 in force
OLD = date(2025, 4, 25)  # the day before: the 2004/2007 rows
T213 = Offence.COUNTERFEIT_REGISTERED_TRADEMARK
T214 = Offence.SELLING_COUNTERFEIT_TRADEMARK_GOODS


def _findings(offence: Offence = T213, on: date = NEW, **sums: Any) -> CaseFindings:
    money = {
        k: cny(v)
        for k, v in sums.items()
        if k in {"illegal_business_volume", "illegal_gains", "sales_amount", "unsold_goods_value"}
    }
    other = {k: v for k, v in sums.items() if k not in money}
    return CaseFindings(offence=offence, offender=Offender.UNIT, committed_on=on, **money, **other)


def _version(findings: CaseFindings) -> str | None:
    crossed = crossed_threshold(findings, BOOK)
    return None if crossed is None else crossed.version


G = "criminal_threshold.counterfeit_registered_trademark"
S = "criminal_threshold.selling_counterfeit_trademark_goods"

ROWS = [
    # art. 213, goods: gains 30,000 or volume 50,000
    pytest.param({"illegal_business_volume": "49999.99"}, None, id="213-volume-one-cent-below"),
    pytest.param({"illegal_business_volume": "50000"}, f"{G}.goods@2025-04-26", id="213-volume"),
    pytest.param({"illegal_gains": "29999.99"}, None, id="213-gains-one-cent-below"),
    pytest.param({"illegal_gains": "30000"}, f"{G}.goods@2025-04-26", id="213-gains"),
    # two or more marks: 20,000 / 30,000
    pytest.param({"illegal_gains": "20000", "marks": 1}, None, id="213-one-mark-20000-gains"),
    pytest.param(
        {"illegal_gains": "20000", "marks": 2},
        f"{G}.goods_two_or_more_marks@2025-04-26",
        id="213-two-marks-gains",
    ),
    pytest.param(
        {"illegal_business_volume": "29999.99", "marks": 3}, None, id="213-two-marks-below"
    ),
    # repeat within two years after a penalty: 20,000 / 30,000
    pytest.param(
        {"illegal_business_volume": "30000", "prior_penalty_on": date(2023, 4, 26)},
        f"{G}.goods_repeat@2025-04-26",
        id="213-repeat-on-the-last-day-of-two-years",
    ),
    pytest.param(
        {"illegal_business_volume": "30000", "prior_penalty_on": date(2023, 4, 25)},
        None,
        id="213-repeat-one-day-past-two-years",
    ),
    # service marks: gains 50,000; two marks or repeat 30,000; volume not a measure
    pytest.param({"service_marks": True, "illegal_gains": "49999.99"}, None, id="213-svc-below"),
    pytest.param(
        {"service_marks": True, "illegal_gains": "50000"},
        f"{G}.services@2025-04-26",
        id="213-services",
    ),
    pytest.param(
        {"service_marks": True, "illegal_business_volume": "900000"}, None, id="213-svc-volume"
    ),
    pytest.param(
        {"service_marks": True, "marks": 2, "illegal_gains": "30000"},
        f"{G}.services_two_or_more_marks@2025-04-26",
        id="213-services-two-marks",
    ),
    pytest.param(
        {"service_marks": True, "prior_penalty_on": date(2025, 1, 1), "illegal_gains": "30000"},
        f"{G}.services_repeat@2025-04-26",
        id="213-services-repeat",
    ),
]


@pytest.mark.parametrize(("sums", "version"), ROWS)
def test_each_row_of_article_213_in_force_since_2025(
    sums: dict[str, Any], version: str | None
) -> None:
    assert _version(_findings(**sums)) == version


SALES = [
    pytest.param({"illegal_gains": "30000"}, f"{S}.illegal_gains@2025-04-26", id="214-gains"),
    pytest.param({"illegal_gains": "29999.99"}, None, id="214-gains-below"),
    pytest.param({"sales_amount": "50000"}, f"{S}.sales@2025-04-26", id="214-sales"),
    pytest.param({"sales_amount": "49999.99"}, None, id="214-sales-below"),
    pytest.param({"unsold_goods_value": "150000"}, f"{S}.unsold@2025-04-26", id="214-unsold"),
    pytest.param({"unsold_goods_value": "149999.99"}, None, id="214-unsold-below"),
    pytest.param(
        {"sales_amount": "40000", "unsold_goods_value": "110000"},
        f"{S}.unsold@2025-04-26",
        id="214-sold-and-unsold-together",
    ),
]


@pytest.mark.parametrize(("sums", "version"), SALES)
def test_each_row_of_article_214_as_amended(sums: dict[str, Any], version: str | None) -> None:
    assert _version(_findings(T214, **sums)) == version


def test_the_version_in_force_on_the_date_of_the_act_applies() -> None:
    assert _version(_findings(on=OLD, illegal_business_volume="50000")) == (f"{G}.goods@2007-04-05")
    assert _version(_findings(on=NEW, illegal_business_volume="50000")) == (f"{G}.goods@2025-04-26")
    before_amendment_xi = date(2021, 2, 28)
    assert _version(_findings(T214, on=before_amendment_xi, sales_amount="50000")) == (
        f"{S}.sales@2007-04-05"
    )
    assert _version(_findings(T214, on=date(2012, 1, 1), unsold_goods_value="150000")) == (
        f"{S}.unsold@2010-05-07"
    )


def test_between_amendment_xi_and_2025_article_214_is_not_decided_by_rule() -> None:
    for on in (date(2021, 3, 1), OLD):
        assert _version(_findings(T214, on=on, sales_amount="9000000")) is None
        assert _version(_findings(T214, on=on, unsold_goods_value="9000000")) is None


def test_rows_new_in_2025_do_not_reach_back() -> None:
    repeat = _findings(on=OLD, prior_penalty_on=date(2024, 1, 1), illegal_gains="20000")
    assert _version(repeat) is None  # no repeat row before 2025
    assert _version(_findings(on=OLD, service_marks=True, illegal_gains="900000")) is None
    assert _version(_findings(T214, on=OLD, illegal_gains="900000")) is None


def test_an_act_before_any_version_is_not_assessed() -> None:
    assert _version(_findings(on=date(2007, 4, 4), illegal_business_volume="9000000")) is None


def test_units_and_individuals_meet_the_same_rows() -> None:
    unit = _findings(illegal_gains="30000")
    person = unit.model_copy(update={"offender": Offender.INDIVIDUAL})
    assert _version(unit) == _version(person) == f"{G}.goods@2025-04-26"


def test_sums_in_another_currency_cannot_be_assessed() -> None:
    findings = _findings().model_copy(
        update={"illegal_gains": cny("1").model_copy(update={"currency": "USD"})}
    )
    with pytest.raises(ThresholdUnassessable, match="CNY"):
        crossed_threshold(findings, BOOK)


def test_the_reason_names_the_sum_the_threshold_and_the_version() -> None:
    findings = _findings(illegal_gains="95000")
    crossed = crossed_threshold(findings, BOOK)
    assert crossed is not None
    assert crossed.reason(findings) == (
        "counterfeit registered trademark by a unit: illegal gains 95000 CNY ≥ 30000 CNY "
        f"({G}.goods@2025-04-26)"
    )


def test_every_threshold_rule_cites_its_article_and_the_interpretation_or_standard() -> None:
    rules = [rule for rule in BOOK if rule.name.startswith("criminal_threshold.")]
    assert rules
    for rule in rules:
        assert "art." in rule.source
        texts = ("法释〔2025〕5号", "法释〔2004〕19号", "公通字", "刑法修正案（十一）")
        assert any(text in rule.source for text in texts)
        if rule.effective_from >= NEW:
            assert "法释〔2025〕5号" in rule.source


def test_the_demo_policy_applies_the_same_2025_row() -> None:
    demo = RuleBook.from_policy(load_policy(DEPLOY / "demo-policy.toml"))
    name = f"{G}.goods"
    assert demo.in_force(name, NEW) == BOOK.in_force(name, NEW)


def test_a_prior_penalty_after_the_act_is_refused() -> None:
    with pytest.raises(ValueError, match="prior penalty"):
        _findings(prior_penalty_on=date(2025, 5, 1))


def test_a_threshold_rule_with_a_typo_fails_at_start_up_naming_rule_and_field() -> None:
    check_threshold_rules(BOOK)  # the shipped file is well-formed
    typo = RuleBook.from_policy(
        {
            "rule": [
                {
                    "name": f"{G}.goods",
                    "values": {"criminal_law_article": 213, "ilegal_gains": 30000},
                    "source": "法释〔2025〕5号 art. 3",
                    "effective_from": "2025-04-26",
                }
            ]
        }
    )
    with pytest.raises(ConfigurationError, match=r"goods@2025-04-26 \[ilegal_gains\]"):
        check_threshold_rules(typo)
