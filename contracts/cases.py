"""Case events (DESIGN §5): one shared status for a matter that several agencies work on.

The ``case_id`` travels in the envelope's ``subject`` attribute, not in these payloads, so a case
event can be routed and filtered without opening its data.
"""

from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.agencies import IpType
from contracts.base import Payload
from contracts.identifiers import (
    CreditCode,
    HsCode,
    LocalRef,
    Money,
    NonEmptyStr,
    ResidentId,
    UtcDatetime,
)
from contracts.oversight import CaseFindings

__all__ = [
    "CaseCancelled",
    "CaseClosed",
    "CaseOpened",
    "CaseStatus",
    "CaseStatusChanged",
    "Goods",
    "IpRight",
    "Party",
    "PartyKind",
    "PartyRole",
    "PhoneNumber",
    "Quantity",
]

_VALUE = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

Quantity = Annotated[int, Field(strict=True, gt=0)]
"""A count of items: a true integer above zero (no ``"5"``, no ``5.0``, no ``True``)."""

PHONE_PATTERN = r"^\+?[0-9][0-9 -]{2,31}$"
PhoneNumber = Annotated[str, StringConstraints(pattern=PHONE_PATTERN)]
"""A phone number as written: digits, spaces and hyphens, optionally a leading ``+``."""


class CaseStatus(StrEnum):
    """The shared status vocabulary every agency maps its own workflow onto."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    REFERRED = "referred"
    PENALIZED = "penalized"
    FILED = "filed"
    PROSECUTING = "prosecuting"
    IN_TRIAL = "in_trial"
    JUDGED = "judged"
    DECLINED = "declined"
    CLOSED = "closed"


class IpRight(BaseModel):
    """The right said to be infringed, as registered (trademark no., patent no., ...)."""

    model_config = _VALUE

    type: IpType
    registration_no: NonEmptyStr
    holder: NonEmptyStr
    description: str | None = None


class PartyKind(StrEnum):
    """Legal persons are identified by credit code, natural persons by resident id."""

    LEGAL_PERSON = "legal_person"
    NATURAL_PERSON = "natural_person"


class PartyRole(StrEnum):
    """A party's part in the matter."""

    SUSPECT = "suspect"
    RIGHTS_HOLDER = "rights_holder"
    CONSIGNEE = "consignee"
    CONSIGNOR = "consignor"
    COMPLAINANT = "complainant"
    MEDIATOR = "mediator"
    OTHER = "other"


class Party(BaseModel):
    """A person or organisation in a case; natural persons' data is minimised abroad (§6)."""

    model_config = _VALUE

    kind: PartyKind
    role: PartyRole
    name: NonEmptyStr
    credit_code: CreditCode | None = None
    resident_id: ResidentId | None = None
    phone: PhoneNumber | None = None
    address: str | None = None

    @model_validator(mode="after")
    def _identified_by_kind(self) -> Self:
        if self.kind is PartyKind.LEGAL_PERSON:
            if self.credit_code is None:
                raise ValueError("a legal person must carry its unified social credit code")
            if self.resident_id is not None:
                raise ValueError("a legal person has no resident id")
        return self


class Goods(BaseModel):
    """Goods involved: what, how many, and (optionally) their declared value."""

    model_config = _VALUE

    description: NonEmptyStr
    hs_code: HsCode | None = None
    quantity: Quantity
    unit: NonEmptyStr = "piece"
    declared_value: Money | None = None


class CaseOpened(Payload):
    """An agency opens a matter; the envelope ``subject`` carries the new case_id."""

    event_type: ClassVar[str] = "case.opened"

    local_ref: LocalRef
    title: NonEmptyStr
    ip_rights: list[IpRight]
    parties: list[Party]
    goods: list[Goods]
    opened_at: UtcDatetime


class CaseStatusChanged(Payload):
    """The case moved to another shared status."""

    event_type: ClassVar[str] = "case.status_changed"

    local_ref: LocalRef
    status: CaseStatus
    note: str = ""
    findings: CaseFindings | None = None
    """With ``penalized``: what the regulator found, so the coordinator can tell a case that
    crossed a criminal threshold but was penalised instead of transferred (``oversight.*``)."""


class CaseClosed(Payload):
    """The agency closes its part of the matter, saying how it ended."""

    event_type: ClassVar[str] = "case.closed"

    local_ref: LocalRef
    outcome: NonEmptyStr


class CaseCancelled(Payload):
    """The agency that opened the case withdraws it (撤销案件): its part ends without an outcome.

    Only an agency that opened the case may cancel it; the coordinator refuses anyone else.
    """

    event_type: ClassVar[str] = "case.cancelled"

    local_ref: LocalRef
    reason: NonEmptyStr
    cancelled_at: UtcDatetime
