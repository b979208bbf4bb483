"""The base every event payload derives from."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Payload"]


class Payload(BaseModel):
    """An event's `data`: frozen and strict, because a payload is the contract.

    Unknown fields are refused (an agency sending a field nobody reads is a bug
    on its side); envelope extensions, by contrast, are tolerated — see
    :class:`contracts.envelope.Envelope`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    event_type: ClassVar[str]
    """The CloudEvents type without `ipbus.` and `.v1`, e.g. ``referral.issued``."""
