"""The agency registry (DESIGN §2): who is on the bus, what they are, and what they care about.

The registry is one TOML file; NATS permissions and warning routing are derived from it, so it is
parsed strictly and every error names the agency and field at fault.
"""

import json
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from contracts.identifiers import (
    NATIONAL_REGION,
    AgencyId,
    HsPrefix,
    NonEmptyStr,
    RegionCode,
    UtcDatetime,
)

__all__ = [
    "ADAPTER_REF_PATTERN",
    "NKEY_USER_PATTERN",
    "AdapterRef",
    "Agency",
    "AgencyInterests",
    "AgencyKeyPeriod",
    "AgencyKind",
    "IpType",
    "JudicialRole",
    "NkeyPublicKey",
    "Registry",
    "RegistryError",
    "UnknownAgency",
    "WarningCategory",
    "division_chain",
    "dump_registry",
    "parse_registry",
]


class AgencyKind(StrEnum):
    """What an agency does; decides which adapter serves it and which events it may send."""

    ENFORCEMENT = "enforcement"
    JUDICIAL = "judicial"
    CUSTOMS = "customs"
    OVERSEAS = "overseas"
    COORDINATOR = "coordinator"
    MEDIATION = "mediation"
    """A mediation or arbitration centre (asks courts to confirm its agreements)."""
    RIGHTS_HOLDERS = "rightsholders"
    """A rights-holder desk: speaks for the registered holders it lists in ``represents``."""


class JudicialRole(StrEnum):
    """Which judicial body: needed to find, e.g., the procuratorate supervising a region."""

    PUBLIC_SECURITY = "public_security"
    PROCURATORATE = "procuratorate"
    COURT = "court"


class WarningCategory(StrEnum):
    """Early-warning categories (DESIGN §5); here because agency interests name them."""

    OVERSEAS_LITIGATION = "overseas_litigation"
    OVERSEAS_SQUATTING = "overseas_squatting"
    REPEAT_INFRINGER = "repeat_infringer"
    SEIZURE_TREND = "seizure_trend"
    COUNTERFEIT_ROUTE = "counterfeit_route"
    CREDIT_LISTING = "credit_listing"
    """A regulator listed (or delisted) a company on a credit list (``credit.*``)."""


class IpType(StrEnum):
    """Kinds of intellectual property right."""

    TRADEMARK = "trademark"
    PATENT = "patent"
    COPYRIGHT = "copyright"
    GEOGRAPHICAL_INDICATION = "geographical_indication"
    TRADE_SECRET = "trade_secret"
    PLANT_VARIETY = "plant_variety"
    LAYOUT_DESIGN = "layout_design"


NKEY_USER_PATTERN = r"^U[A-Z2-7]{55}$"
ADAPTER_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
AdapterRef = Annotated[str, StringConstraints(pattern=ADAPTER_REF_PATTERN)]
"""Where an agency's service class lives: ``"package.module:ClassName"``."""
NkeyPublicKey = Annotated[str, StringConstraints(pattern=NKEY_USER_PATTERN)]
"""A NATS user nkey public key (ed25519, base32, 56 characters starting with U)."""

_STRICT = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class AgencyInterests(BaseModel):
    """What warnings an agency wants; an empty list means no preference on that axis."""

    model_config = _STRICT

    regions: list[RegionCode] = Field(default_factory=list)
    ip_types: list[IpType] = Field(default_factory=list)
    hs_prefixes: list[HsPrefix] = Field(default_factory=list)
    categories: list[WarningCategory] = Field(default_factory=list)


class AgencyKeyPeriod(BaseModel):
    """One key an agency has signed with, and when (``[[agencies.keys]]``).

    Open ends mean "since ever" / "until further notice". A revoked key verifies nothing
    stored on the bus from ``revoked_at`` on, whatever time the event claims.
    """

    model_config = _STRICT

    public_key: NkeyPublicKey
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class Agency(BaseModel):
    """One registered agency. ``previous_public_key`` keeps signatures valid during rotation."""

    model_config = _STRICT

    id: AgencyId
    kind: AgencyKind
    region: RegionCode
    name: NonEmptyStr
    role: JudicialRole | None = None
    public_key: NkeyPublicKey | None = None
    previous_public_key: NkeyPublicKey | None = None
    adapter: AdapterRef | None = None
    """The service that runs this agency, when not the standard one for its kind."""
    interests: AgencyInterests = Field(default_factory=AgencyInterests)
    keys: tuple[AgencyKeyPeriod, ...] = ()
    """The key history with validity periods; ``public_key``/``previous_public_key``
    stay valid at any time unless the history says otherwise about them."""
    represents: tuple[NonEmptyStr, ...] = ()
    """For a rights-holder desk: the ids of the registered holders it speaks for."""

    @model_validator(mode="after")
    def _role_only_for_judicial(self) -> Self:
        if self.role is not None and self.kind is not AgencyKind.JUDICIAL:
            raise ValueError(f"role is only for judicial agencies, not {self.kind.value}")
        return self

    @model_validator(mode="after")
    def _represents_only_for_desks(self) -> Self:
        if self.represents and self.kind is not AgencyKind.RIGHTS_HOLDERS:
            raise ValueError(f"represents is only for rights-holder desks, not {self.kind.value}")
        if len(set(self.represents)) != len(self.represents):
            raise ValueError("represents names a holder more than once")
        return self


class UnknownAgency(KeyError):
    """Raised when an agency id is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown agency"


class RegistryError(ValueError):
    """The registry file is malformed; the message names the agency and field at fault."""


def division_chain(region: str) -> tuple[str, ...]:
    """``region`` and the divisions above it, nearest first, ending with the national one.

    GB/T 2260 codes nest by digits: district 310115 lies in city 310100, which lies in
    province 310000. A competent authority is sought at the nearest level that has one.

    >>> division_chain("310115")
    ('310115', '310100', '310000', '100000')
    >>> division_chain("310000")
    ('310000', '100000')
    """
    chain = [region]
    for city_or_province in (region[:4] + "00", region[:2] + "0000"):
        if city_or_province not in chain:
            chain.append(city_or_province)
    if NATIONAL_REGION not in chain:
        chain.append(NATIONAL_REGION)
    return tuple(chain)


class Registry(BaseModel):
    """All agencies; ids unique and exactly one coordinator, so routing is never ambiguous."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agencies: tuple[Agency, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        for agency in self.agencies:
            if agency.id in seen:
                raise ValueError(f"agency id {agency.id!r} appears more than once")
            seen.add(agency.id)
        coordinators = [a.id for a in self.agencies if a.kind is AgencyKind.COORDINATOR]
        if len(coordinators) != 1:
            raise ValueError(f"need exactly one coordinator agency, found {len(coordinators)}")
        spoken_for: dict[str, str] = {}
        for desk in self.of_kind(AgencyKind.RIGHTS_HOLDERS):
            for holder in desk.represents:
                if holder in spoken_for:
                    raise ValueError(
                        f"holder {holder!r} is represented by both {spoken_for[holder]!r} "
                        f"and {desk.id!r}"
                    )
                spoken_for[holder] = desk.id
        return self

    @cached_property
    def _by_id(self) -> dict[str, Agency]:
        """Every event asks the registry two or three times: a lookup, not a scan."""
        return {agency.id: agency for agency in self.agencies}

    def get(self, agency_id: str) -> Agency:
        """The agency with this id, or :class:`UnknownAgency`."""
        agency = self._by_id.get(agency_id)
        if agency is None:
            raise UnknownAgency(f"agency {agency_id!r} is not in the registry")
        return agency

    def __contains__(self, agency_id: object) -> bool:
        return isinstance(agency_id, str) and agency_id in self._by_id

    def of_kind(self, kind: AgencyKind) -> list[Agency]:
        """Agencies of one kind, in registry order."""
        return [agency for agency in self.agencies if agency.kind is kind]

    def desk_for(self, holder: str) -> Agency | None:
        """The rights-holder desk that speaks for ``holder``, if one does (at most one)."""
        for desk in self.of_kind(AgencyKind.RIGHTS_HOLDERS):
            if holder in desk.represents:
                return desk
        return None

    def judicial_for(self, role: JudicialRole, region: str) -> Agency | None:
        """The ``role`` body competent for ``region``: the one of the region itself, else of
        its city, else of its province, else a national one (:func:`division_chain`)."""
        bodies = [a for a in self.of_kind(AgencyKind.JUDICIAL) if a.role is role]
        for wanted in division_chain(region):
            for agency in bodies:
                if agency.region == wanted:
                    return agency
        return None

    def procuratorate_for(self, region: str) -> Agency | None:
        """The procuratorate competent for ``region`` at the nearest level, else ``None``."""
        return self.judicial_for(JudicialRole.PROCURATORATE, region)

    def public_security_for(self, region: str) -> Agency | None:
        """The public security bureau competent for ``region`` at the nearest level."""
        return self.judicial_for(JudicialRole.PUBLIC_SECURITY, region)

    def with_public_keys(self, keys: Mapping[str, str]) -> "Registry":
        """A copy with the keys actually in use; a replaced key becomes ``previous_public_key``."""
        for agency_id in keys:
            self.get(agency_id)
        updated: list[Agency] = []
        for agency in self.agencies:
            new_key = keys.get(agency.id)
            if new_key is None or new_key == agency.public_key:
                updated.append(agency)
                continue
            previous = agency.public_key or agency.previous_public_key
            data = agency.model_dump() | {"public_key": new_key, "previous_public_key": previous}
            updated.append(Agency.model_validate(data))
        return Registry(agencies=tuple(updated))


def _where(item: object, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return f"agency {item['id']!r}"
    return f"agency #{index + 1}"


def _message(exc: ValidationError) -> str:
    return exc.errors()[0]["msg"].removeprefix("Value error, ")


def parse_registry(text: str) -> Registry:
    """Read the ``[[agencies]]`` TOML of DESIGN §2; :class:`RegistryError` on any fault."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"registry is not valid TOML: {exc}") from exc
    extra = sorted(set(document) - {"agencies"})
    if extra:
        raise RegistryError(f"unexpected top-level keys in registry: {', '.join(extra)}")
    items = document.get("agencies")
    if not isinstance(items, list) or not items:
        raise RegistryError("registry has no [[agencies]] tables")
    agencies: list[Agency] = []
    for index, item in enumerate(items):
        try:
            agencies.append(Agency.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(table)"
            raise RegistryError(f"{_where(item, index)}: {field}: {_message(exc)}") from exc
    try:
        return Registry(agencies=tuple(agencies))
    except ValidationError as exc:
        raise RegistryError(f"registry: {_message(exc)}") from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A JSON string is a TOML basic string, once DEL (legal in JSON, not in TOML) is escaped.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def dump_registry(registry: Registry) -> str:
    """Write ``registry`` in the format :func:`parse_registry` reads (round-trip exact)."""
    lines: list[str] = []
    for agency in registry.agencies:
        lines.append("[[agencies]]")
        for key, value in agency.model_dump(mode="json", exclude={"interests", "keys"}).items():
            if value is not None and value != []:
                lines.append(f"{key} = {_toml_value(value)}")
        interests = agency.interests.model_dump(mode="json")
        if any(interests.values()):
            lines.append("[agencies.interests]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in interests.items())
        for period in agency.keys:
            lines.append("[[agencies.keys]]")
            for key, value in period.model_dump(exclude_none=True).items():
                # a TOML offset date-time, read back by tomllib as an aware datetime
                text = value.isoformat() if hasattr(value, "isoformat") else _toml_value(value)
                lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)
