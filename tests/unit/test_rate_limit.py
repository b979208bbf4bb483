"""The per-requester token bucket behind the coordinator's query rate limit."""

from prometheus_client import CollectorRegistry

from services.runtime.bus import QueryGate, QueryRateLimit, TokenBuckets
from services.runtime.ops import IpbusMetrics


def test_a_burst_then_the_sustained_rate() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=3)
    assert [buckets.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert not buckets.allow("a", 0.5)  # half a token is not a query
    assert buckets.allow("a", 1.6)
    assert not buckets.allow("a", 1.7)


def test_each_requester_has_its_own_bucket() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1)
    assert buckets.allow("a", 0.0)
    assert not buckets.allow("a", 0.0)
    assert buckets.allow("b", 0.0)


def test_a_refill_never_exceeds_the_burst() -> None:
    buckets = TokenBuckets(rate_per_s=10.0, burst=2)
    assert buckets.allow("a", 0.0)
    assert [buckets.allow("a", 1000.0) for _ in range(3)] == [True, True, False]


def test_the_gate_answers_a_refusal_in_words_and_counts_it() -> None:
    metrics = IpbusMetrics(CollectorRegistry())
    gate = QueryGate(
        QueryRateLimit(per_requester_per_minute=60, burst=1), metrics.for_agency("coordinator")
    )
    assert gate.refusal("customs-shanghai", 0.0) is None
    refusal = gate.refusal("customs-shanghai", 0.1)
    assert refusal is not None
    assert refusal.startswith("rate_limited:")
    assert "customs-shanghai" in refusal
    labels = {"agency": "coordinator", "requester": "customs-shanghai", "reason": "rate_limited"}
    assert metrics.registry.get_sample_value("ipbus_queries_refused_total", labels) == 1


def test_the_coordinators_own_identity_is_not_limited() -> None:
    metrics = IpbusMetrics(CollectorRegistry())
    gate = QueryGate(
        QueryRateLimit(per_requester_per_minute=1, burst=1), metrics.for_agency("coordinator")
    )
    assert all(gate.refusal("coordinator", 0.0) is None for _ in range(10))
