"""Criminal thresholds, pure: whether a case's findings cross one in force on the date of the act.

The thresholds are rules of the policy file (``[[rule]]``), one per row of the judicial
interpretation, named ``criminal_threshold.<offence>.<row>``; their values say which
findings the row is about (goods or services, how many marks, a repeat after a penalty) and
the sums at or above which the offence is criminal. Any one sum reaching its threshold is
enough. Rows are read in the version in force on ``findings.committed_on``: a row that had
no version then (e.g. service marks before 2025-04-26) is simply not applied.

Both the regulator (deciding a transfer) and the coordinator (flagging a case penalised
instead of transferred) read the same rows, so they cannot disagree.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from contracts.identifiers import Money
from contracts.oversight import CaseFindings
from services.runtime.law.rules import Rule, RuleBook, RuleNotInForce

__all__ = [
    "RULE_PREFIX",
    "ThresholdCrossed",
    "ThresholdRow",
    "ThresholdUnassessable",
    "check_threshold_rules",
    "crossed_threshold",
    "threshold_rows",
]

RULE_PREFIX = "criminal_threshold"


class ThresholdUnassessable(ValueError):
    """Findings a threshold cannot be read against (sums not in CNY)."""


class ThresholdRow(BaseModel):
    """A threshold rule's values: which findings it is about, and its sums (CNY)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    criminal_law_article: int = Field(ge=213, le=220)
    services: bool = False
    """The row is about service marks (art. 213 covers services since Amendment XI)."""
    marks_at_least: int = Field(default=1, ge=1)
    repeat_within_years: int | None = Field(default=None, gt=0)
    """The row applies to an act within this many years after a penalty for arts. 213–215."""
    illegal_business_volume: Decimal | None = Field(default=None, ge=0)
    illegal_gains: Decimal | None = Field(default=None, ge=0)
    sales_amount: Decimal | None = Field(default=None, ge=0)
    unsold_goods_value: Decimal | None = Field(default=None, ge=0)
    sold_and_unsold_value: Decimal | None = Field(default=None, ge=0)
    """Sales and unsold goods' value together (art. 214: partly sold, the rest in stock)."""

    def applies_to(self, findings: CaseFindings) -> bool:
        """Whether the findings are of the kind this row is about."""
        if self.services != findings.service_marks or findings.marks < self.marks_at_least:
            return False
        if self.repeat_within_years is None:
            return True
        prior = findings.prior_penalty_on
        return prior is not None and findings.committed_on <= _years_after(
            prior, self.repeat_within_years
        )


@dataclass(frozen=True, slots=True)
class ThresholdCrossed:
    """The row the findings reach, and by which sum: what a transfer or a flag records."""

    rule: Rule
    measure: str
    amount: Decimal
    threshold: Decimal

    @property
    def version(self) -> str:
        return self.rule.version

    def reason(self, findings: CaseFindings) -> str:
        """In words the recipient reads, with the rule version that decided it."""
        what = findings.offence.value.replace("_", " ")
        return (
            f"{what} by a {findings.offender.value}: {self.measure.replace('_', ' ')} "
            f"{self.amount} CNY ≥ {self.threshold} CNY ({self.rule.version})"
        )


_MEASURES = (
    "illegal_business_volume",
    "illegal_gains",
    "sales_amount",
    "unsold_goods_value",
    "sold_and_unsold_value",
)


def check_threshold_rules(book: RuleBook) -> None:
    """Read every version of every threshold rule now, so a typo in the policy file fails at
    start-up (naming the rule and field), not at the first case it should decide."""
    for rule in book:
        if rule.name.startswith(f"{RULE_PREFIX}."):
            rule.values_as(ThresholdRow)


def threshold_rows(book: RuleBook, findings: CaseFindings) -> list[tuple[Rule, ThresholdRow]]:
    """The offence's rows in force on the date of the act, by name."""
    prefix = f"{RULE_PREFIX}.{findings.offence.value}."
    names = sorted({rule.name for rule in book if rule.name.startswith(prefix)})
    rows = []
    for name in names:
        try:
            rule = book.in_force(name, findings.committed_on)
        except RuleNotInForce:
            continue
        rows.append((rule, rule.values_as(ThresholdRow)))
    return rows


def crossed_threshold(findings: CaseFindings, book: RuleBook) -> ThresholdCrossed | None:
    """The first row (by name, then measure) the findings reach, or ``None``."""
    sums = _sums(findings)
    for rule, row in threshold_rows(book, findings):
        if not row.applies_to(findings):
            continue
        for measure in _MEASURES:
            threshold: Decimal | None = getattr(row, measure)
            amount = sums[measure]
            if threshold is not None and amount is not None and amount >= threshold:
                return ThresholdCrossed(rule, measure, amount, threshold)
    return None


def _sums(findings: CaseFindings) -> dict[str, Decimal | None]:
    found = {
        measure: _cny(getattr(findings, measure))
        for measure in _MEASURES
        if measure != "sold_and_unsold_value"
    }
    sold, unsold = found["sales_amount"], found["unsold_goods_value"]
    found["sold_and_unsold_value"] = (
        None if sold is None and unsold is None else (sold or Decimal(0)) + (unsold or Decimal(0))
    )
    return found


def _cny(amount: Money | None) -> Decimal | None:
    if amount is None:
        return None
    if amount.currency != "CNY":
        raise ThresholdUnassessable("criminal thresholds are assessed in CNY")
    return amount.value


def _years_after(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
