"""The metrics verbs, on a registry of the test's own, and what ``ipbus status`` reads."""

from prometheus_client import CollectorRegistry, generate_latest

from contracts.envelope import RejectReason
from services.cli.status import read_metrics
from services.runtime.ops import IpbusMetrics


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_counters_start_at_zero_for_every_reason_so_the_first_dead_letter_is_an_increase() -> None:
    registry = CollectorRegistry()
    metrics = IpbusMetrics(registry).for_agency("amr-shanghai", "enforcement")
    for reason in RejectReason:
        assert (
            _value(registry, "ipbus_dead_letters_total", agency="amr-shanghai", reason=reason) == 0
        )
    metrics.dead_lettered(RejectReason.BAD_SIGNATURE)
    assert (
        _value(registry, "ipbus_dead_letters_total", agency="amr-shanghai", reason="bad_signature")
        == 1
    )


def test_an_undecodable_delivery_counts_as_unknown_type() -> None:
    registry = CollectorRegistry()
    metrics = IpbusMetrics(registry).for_agency("coordinator")
    metrics.event_received(None, "dead_lettered")
    assert (
        _value(
            registry,
            "ipbus_events_received_total",
            agency="coordinator",
            event_type="unknown",
            outcome="dead_lettered",
        )
        == 1
    )


def test_gauge_grids_are_set_whole_so_a_cleared_cell_reads_zero() -> None:
    registry = CollectorRegistry()
    metrics = IpbusMetrics(registry).for_agency("coordinator")
    metrics.overdue_counts(
        {("customs_to_enforcement", "decide"): 2},
        ["customs_to_enforcement"],
        ["acknowledge", "decide"],
    )
    metrics.overdue_counts({}, ["customs_to_enforcement"], ["acknowledge", "decide"])
    assert (
        _value(registry, "ipbus_referrals_overdue", kind="customs_to_enforcement", stage="decide")
        == 0
    )


def test_registries_are_independent() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    IpbusMetrics(first).for_agency("a").published(3)
    IpbusMetrics(second)
    assert _value(first, "ipbus_events_published_total", agency="a") == 3
    assert _value(second, "ipbus_events_published_total", agency="a") is None


def test_status_reads_overdue_referrals_and_unacknowledged_warnings_from_a_scrape() -> None:
    registry = CollectorRegistry()
    metrics = IpbusMetrics(registry).for_agency("coordinator")
    metrics.overdue_counts(
        {("customs_to_enforcement", "decide"): 2},
        ["customs_to_enforcement"],
        ["acknowledge", "decide"],
    )
    metrics.unacknowledged_warnings({"critical": (1, 120.0)}, ["high", "critical"])
    overdue, unacknowledged = read_metrics(generate_latest(registry).decode())
    assert overdue == {"customs_to_enforcement/decide": 2}
    assert unacknowledged == {"critical": 1}


def test_unauthorised_events_are_counted_by_a_small_fixed_set_of_reasons() -> None:
    registry = CollectorRegistry()
    metrics = IpbusMetrics(registry).for_agency("coordinator", "coordinator")
    name = "ipbus_unauthorised_events_total"
    assert _value(registry, name, reason="not_a_party") == 0
    assert _value(registry, name, reason="not_permitted") == 0

    metrics.refused_by_authority(RejectReason.NOT_A_PARTY)
    metrics.refused_by_authority(RejectReason.NOT_PERMITTED)
    metrics.refused_by_authority(RejectReason.NOT_PERMITTED)
    metrics.refused_by_authority(RejectReason.NOT_JSON)  # not about authority: not counted here

    assert _value(registry, name, reason="not_a_party") == 1
    assert _value(registry, name, reason="not_permitted") == 2
    assert _value(registry, name, reason="not_json") is None
