"""A query rate limit per requester: a token bucket each, refusals answered and counted.

The coordinator answers every agency's questions from its own database; one agency asking
in a loop must not slow the answers to the others. Limits are policy ``[queries]``.
"""

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from contracts.subjects import COORDINATOR
from services.runtime.ops.metrics import AgencyMetrics

__all__ = ["QueryGate", "QueryRateLimit", "TokenBuckets"]

RATE_LIMITED = "rate_limited"


class QueryRateLimit(BaseModel):
    """Policy ``[queries]``: a sustained rate and a burst, per requesting agency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_requester_per_minute: float = Field(default=120, gt=0)
    burst: int = Field(default=30, ge=1)


@dataclass
class TokenBuckets:
    """One bucket per key; ``now_s`` is a monotonic clock the caller passes in."""

    rate_per_s: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, now_s: float) -> bool:
        tokens, last = self._buckets.get(key, (float(self.burst), now_s))
        tokens = min(float(self.burst), tokens + (now_s - last) * self.rate_per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now_s)
            return False
        self._buckets[key] = (tokens - 1.0, now_s)
        return True


class QueryGate:
    """Whether to answer ``requester`` now; a refusal is the reply's error text, counted."""

    def __init__(self, limit: QueryRateLimit, metrics: AgencyMetrics) -> None:
        self.limit = limit
        self.metrics = metrics
        self._buckets = TokenBuckets(limit.per_requester_per_minute / 60.0, limit.burst)

    def refusal(self, requester: str, now_s: float) -> str | None:
        if requester == COORDINATOR:  # the hub's own identity (its operator) is trusted
            return None
        if self._buckets.allow(requester, now_s):
            return None
        self.metrics.query_refused(requester, RATE_LIMITED)
        return (
            f"{RATE_LIMITED}: more than {self.limit.per_requester_per_minute:g} queries a "
            f"minute (burst {self.limit.burst}) from {requester}; ask again later"
        )
