"""Identifier types shared by every contract: validated at the boundary, plain strings inside."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError
from ulid import ULID

__all__ = [
    "AGENCY_ID_PATTERN",
    "CREDIT_CODE_CHARSET",
    "ISO_4217_CODES",
    "NATIONAL_REGION",
    "AgencyId",
    "CreditCode",
    "CurrencyCode",
    "HsCode",
    "HsPrefix",
    "LocalRef",
    "Money",
    "NonEmptyStr",
    "RegionCode",
    "ResidentId",
    "Sha256Hex",
    "Ulid",
    "UtcDatetime",
    "credit_code_check_char",
    "is_agency_id",
    "is_credit_code",
    "is_resident_id",
    "is_ulid",
    "new_ulid",
]

AGENCY_ID_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def is_ulid(value: str) -> bool:
    """True when ``value`` is a canonical (upper-case Crockford base32) ULID."""
    return bool(_ULID.match(value))


def _check_ulid(value: str) -> str:
    if not is_ulid(value):
        raise ValueError("must be a ULID: 26 upper-case Crockford base32 characters")
    return value


def new_ulid() -> str:
    """A fresh ULID as text (the only form that travels)."""
    return str(ULID())


AgencyId = Annotated[str, StringConstraints(pattern=AGENCY_ID_PATTERN)]
"""An agency slug; also a subject token, hence no dots."""

Ulid = Annotated[str, AfterValidator(_check_ulid)]
"""A ULID in its canonical 26-character text form."""


def is_agency_id(value: str) -> bool:
    """True when ``value`` is a valid agency slug."""
    return bool(_AGENCY_ID.match(value))


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
"""Date and time as text; the offset is optional here so that its absence is reported by
``AwareDatetime`` as what it is (no timezone), not as a malformed timestamp."""


def _rfc3339_text(value: object) -> object:
    """On the wire a timestamp is RFC 3339 text (DESIGN §3): pydantic alone would also take
    a Unix number, or digits in a string, and guess which epoch unit the sender meant."""
    if isinstance(value, datetime):
        return value  # built in code, not read from the wire
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise PydanticCustomError(
            "rfc3339",
            "must be an RFC 3339 date and time with a timezone offset, like 2026-03-02T10:00:00Z",
        )
    return value


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_to_utc)]
"""A timestamp that must carry an offset; normalised to UTC (RFC 3339 text on the wire)."""


# --- Chinese registration identifiers ---------------------------------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""GB 32100-2015 alphabet: digits and capitals without I, O, Z, S, V (31 characters)."""

_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in _CREDIT_VALUE for c in first17):
        raise ValueError(f"need 17 characters from {CREDIT_CODE_CHARSET!r}, got {first17!r}")
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def _credit_code_problem(value: str) -> str | None:
    if len(value) != 18:
        return f"must be 18 characters, got {len(value)}"
    if value != value.upper():
        return "must be upper-case (a lower-case code is refused, not guessed at)"
    bad = sorted({c for c in value if c not in _CREDIT_VALUE})
    if bad:
        return f"contains characters outside the GB 32100 alphabet: {''.join(bad)!r}"
    if credit_code_check_char(value[:17]) != value[17]:
        return "check character does not match (GB 32100-2015)"
    return None


def is_credit_code(value: object) -> bool:
    """True when ``value`` is a well-formed unified social credit code with a valid check."""
    return isinstance(value, str) and _credit_code_problem(value) is None


def _check_credit_code(value: str) -> str:
    problem = _credit_code_problem(value)
    if problem is not None:
        raise ValueError(f"not a unified social credit code: {problem}")
    return value


_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
_RESIDENT_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")


def _resident_id_problem(value: str) -> str | None:
    if value.endswith("x"):
        return "check character X must be upper-case"
    if not _RESIDENT_SHAPE.match(value):
        return "must be 17 digits followed by a digit or X"
    total = sum(int(c) * w for c, w in zip(value[:17], _RESIDENT_WEIGHTS, strict=True))
    if _RESIDENT_CHECK[total % 11] != value[17]:
        return "check character does not match (ISO 7064 MOD 11-2)"
    return None


def is_resident_id(value: object) -> bool:
    """True when ``value`` is an 18-character resident identity number with a valid check."""
    return isinstance(value, str) and _resident_id_problem(value) is None


def _check_resident_id(value: str) -> str:
    problem = _resident_id_problem(value)
    if problem is not None:
        raise ValueError(f"not a resident identity number: {problem}")
    return value


CreditCode = Annotated[str, AfterValidator(_check_credit_code)]
"""统一社会信用代码: 18 characters, last one the GB 32100-2015 check character."""

ResidentId = Annotated[str, AfterValidator(_check_resident_id)]
"""居民身份证号码: 17 digits and an ISO 7064 MOD 11-2 check character (digit or X)."""

HsCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6,10}$")]
"""A Harmonized System code as declared: 6 to 10 digits, no dots."""

HsPrefix = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,10}$")]
"""The start of an HS code (chapter ``64``, heading ``6403``...), used to match interests."""

NATIONAL_REGION = "100000"
RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
"""A 6-digit administrative division code; ``100000`` stands for national scope."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lower-case hex characters (one spelling, so digests compare)."""

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Text that must say something: blank or whitespace-only is refused."""

LocalRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
"""An agency's own reference for a matter (file number): 1 to 64 characters."""


# --- Money -------------------------------------------------------------------------------------

_ISO_4217_LIST_ONE = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD
XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
"""
ISO_4217_CODES: frozenset[str] = frozenset(_ISO_4217_LIST_ONE.split())
"""ISO 4217 list one (current codes, incl. funds and metals); retired codes such as ANG, BGN,
HRK, SLL and ZWL are refused so that new amounts are not written in dead currencies."""


def _check_currency(value: str) -> str:
    if value not in ISO_4217_CODES:
        raise ValueError(f"{value!r} is not a current ISO 4217 alphabetic currency code")
    return value


CurrencyCode = Annotated[str, AfterValidator(_check_currency)]
"""An active ISO 4217 alphabetic code, upper-case (``CNY``, ``USD``...)."""


class Money(BaseModel):
    """An amount in a currency: a decimal, never a float, so no cent is lost on the way."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Annotated[Decimal, Field(ge=0, decimal_places=4, allow_inf_nan=False)]
    currency: CurrencyCode

    @field_validator("value", mode="before")
    @classmethod
    def _refuse_floats(cls, value: object) -> object:
        if isinstance(value, float | bool):
            raise PydanticCustomError(
                "float_amount", "amounts are decimals written as strings or integers, never floats"
            )
        return value
