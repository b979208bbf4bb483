"""Findings of an administrative case, and the oversight of cases never transferred (DESIGN §5).

A regulator that penalises a case says what it found (:class:`CaseFindings`, on its
``case.status_changed`` to ``penalized``). When those findings cross a criminal threshold in
force on the date of the act and the case was not transferred to public security, the
coordinator flags it to the supervising procuratorate (``oversight.flagged``) — the
procuratorate's core task in the linkage of administrative and criminal enforcement,
against penalties in place of transfers (以罚代刑; Decree 310 (rev. 2020) art. 11 forbids
them). The procuratorate may suggest a transfer with a reply deadline
(``oversight.suggested``); the regulator answers by transferring (``referral.issued``,
``admin_to_criminal``) or by explaining why not (``oversight.answered``).

Who may send each: ``oversight.flagged`` — the coordinator alone; ``oversight.suggested`` —
a procuratorate; ``oversight.answered`` — the regulator the suggestion is addressed to.
"""

from datetime import date
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.base import Payload
from contracts.identifiers import AgencyId, Money, NonEmptyStr, Ulid, UtcDatetime

__all__ = [
    "CaseFindings",
    "Offence",
    "Offender",
    "OversightAnswered",
    "OversightFlagged",
    "OversightSuggested",
]

_VALUE = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Offence(StrEnum):
    """The offence the findings are assessed against (Criminal Law articles)."""

    COUNTERFEIT_REGISTERED_TRADEMARK = "counterfeit_registered_trademark"
    """Art. 213: using an identical mark on the same goods or services."""
    SELLING_COUNTERFEIT_TRADEMARK_GOODS = "selling_counterfeit_trademark_goods"
    """Art. 214 (as amended by Amendment XI, 2021): selling goods bearing counterfeit marks."""


class Offender(StrEnum):
    """Natural person or unit: Criminal Law art. 220 applies the same articles to units."""

    INDIVIDUAL = "individual"
    UNIT = "unit"


class CaseFindings(BaseModel):
    """What the regulator established: the facts a criminal threshold row is read against.

    Sums are CNY (a threshold compares CNY only). ``committed_on`` is the date of the act —
    the date whose rules apply, never the date of the decision.
    """

    model_config = _VALUE

    offence: Offence
    offender: Offender
    committed_on: date
    illegal_business_volume: Money | None = None
    """非法经营数额: the value of the infringing goods made, stored, transported or sold."""
    illegal_gains: Money | None = None
    """违法所得数额."""
    sales_amount: Money | None = None
    """销售金额 (art. 214): what was obtained or due for goods sold."""
    unsold_goods_value: Money | None = None
    """货值金额 of goods not yet sold (art. 214: an attempt above the threshold)."""
    marks: int = Field(default=1, ge=1)
    """How many different registered marks were counterfeited."""
    service_marks: bool = False
    """The marks are used on services, not goods (art. 213 since Amendment XI)."""
    prior_penalty_on: date | None = None
    """When the offender was last penalised (administratively or criminally) for an act of
    arts. 213–215, if ever: a repeat within two years lowers the thresholds."""

    @model_validator(mode="after")
    def _penalty_before_act(self) -> Self:
        if self.prior_penalty_on is not None and self.prior_penalty_on > self.committed_on:
            raise ValueError("a prior penalty must be dated on or before the act")
        return self


class OversightFlagged(Payload):
    """Coordinator → supervising procuratorate: a case penalised, not transferred, although
    its findings cross a criminal threshold in force on the date of the act."""

    event_type: ClassVar[str] = "oversight.flagged"

    oversight_id: Ulid
    case_id: Ulid
    regulator: AgencyId
    findings: CaseFindings
    threshold_rule: NonEmptyStr
    """The version that decided it, e.g. ``criminal_threshold.…goods@2025-04-26``."""
    legal_source: NonEmptyStr
    reason: NonEmptyStr
    penalized_at: UtcDatetime


class OversightSuggested(Payload):
    """Procuratorate → regulator: transfer this case to public security, or say why not,
    by ``reply_by``."""

    event_type: ClassVar[str] = "oversight.suggested"

    oversight_id: Ulid
    case_id: Ulid
    reason: NonEmptyStr
    reply_by: UtcDatetime
    reply_rule: NonEmptyStr
    """The version of ``oversight.reply`` the deadline was set by."""


class OversightAnswered(Payload):
    """Regulator → procuratorate: why the case is not transferred."""

    event_type: ClassVar[str] = "oversight.answered"

    oversight_id: Ulid
    case_id: Ulid
    explanation: NonEmptyStr
