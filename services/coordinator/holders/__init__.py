"""Customs' notices to rights holders: routed to the desk that represents the holder, the
holder's window watched, the answer forwarded to customs (:class:`HolderNotices`)."""

from services.coordinator.holders.notices import (
    HOLDER_NOTICE,
    HOLDER_WINDOW,
    WINDOW_RULE,
    HolderNotices,
    is_holder_deadline,
    lapse_notices,
)

__all__ = [
    "HOLDER_NOTICE",
    "HOLDER_WINDOW",
    "WINDOW_RULE",
    "HolderNotices",
    "is_holder_deadline",
    "lapse_notices",
]
