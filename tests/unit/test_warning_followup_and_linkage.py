"""Pure rules: chasing silent critical warnings, and the linkage signals' thresholds."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.agencies import parse_registry
from contracts.cases import PartyRole
from contracts.warnings import Severity
from services.coordinator.signals.rules import (
    PartySighting,
    RepeatInfringerPolicy,
    SeizureTrendPolicy,
    may_raise,
    repeat_infringer,
    seizure_trend,
)
from services.coordinator.warnings.rules import (
    ChaseStep,
    DeliveryState,
    WarningPolicy,
    escalation_recipients,
    next_check_at,
    next_step,
)
from tests.conftest import REGISTRY

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLICY = WarningPolicy(redeliver_after_minutes=60, max_redeliveries=1)
HOUR = timedelta(hours=1)


def _state(
    severity: Severity = Severity.CRITICAL, deliveries: int = 1, **flags: bool
) -> DeliveryState:
    return DeliveryState(
        severity=severity,
        expires_at=T0 + 10 * HOUR,
        deliveries=deliveries,
        last_delivered_at=T0,
        **flags,
    )


CHASE = [
    pytest.param(_state(), T0 + 59 * timedelta(minutes=1), ChaseStep.NONE, id="within the window"),
    pytest.param(_state(), T0 + HOUR, ChaseStep.REDELIVER, id="window over: re-deliver"),
    pytest.param(_state(deliveries=2), T0 + HOUR, ChaseStep.ESCALATE, id="re-delivered: escalate"),
    pytest.param(
        _state(Severity.HIGH), T0 + 5 * HOUR, ChaseStep.NONE, id="only critical is chased"
    ),
    pytest.param(_state(acknowledged=True), T0 + HOUR, ChaseStep.NONE, id="acknowledged"),
    pytest.param(_state(retracted=True), T0 + HOUR, ChaseStep.NONE, id="retracted"),
    pytest.param(
        _state(deliveries=2, escalated=True), T0 + HOUR, ChaseStep.NONE, id="escalated once only"
    ),
    pytest.param(_state(), T0 + 10 * HOUR, ChaseStep.NONE, id="expired"),
]


@pytest.mark.parametrize(("state", "now", "step"), CHASE)
def test_a_silent_critical_warning_is_redelivered_then_escalated(
    state: DeliveryState, now: datetime, step: ChaseStep
) -> None:
    assert next_step(state, now, POLICY) is step


def test_the_next_check_is_one_window_after_the_last_delivery_and_never_after_an_ack() -> None:
    assert next_check_at(_state(), POLICY) == T0 + HOUR
    assert next_check_at(_state(acknowledged=True), POLICY) is None
    assert next_check_at(_state(Severity.MEDIUM), POLICY) is None


ESCALATIONS = [
    pytest.param(
        "overseas-center",
        "customs-shanghai",
        ["overseas-center", "procuratorate-shanghai"],
        id="issuer and supervisor",
    ),
    pytest.param(
        "coordinator",
        "amr-guangdong",
        ["procuratorate-guangdong"],
        id="a coordinator's own warning: supervisor only",
    ),
    pytest.param(
        "overseas-center",
        "procuratorate-shanghai",
        ["overseas-center"],
        id="a silent procuratorate is not told about itself",
    ),
]


@pytest.mark.parametrize(("issuer", "laggard", "expected"), ESCALATIONS)
def test_escalation_goes_to_the_issuer_and_the_regions_procuratorate(
    issuer: str, laggard: str, expected: list[str]
) -> None:
    registry = parse_registry(REGISTRY.read_text())
    assert escalation_recipients(registry, issuer=issuer, laggard=laggard) == expected


DAY = timedelta(days=1)
RI = RepeatInfringerPolicy(window_days=365, min_agencies=2, min_cases=3)

REPEATS = [
    pytest.param([("A", "amr-sh", 0)], None, id="one case"),
    pytest.param(
        [("A", "customs-sh", 0), ("A", "amr-sh", 1)],
        None,
        id="one case referred between two agencies is not a repeat",
    ),
    pytest.param(
        [("A", "amr-sh", 0), ("B", "amr-gd", 1)],
        (("A", "B"), ("amr-gd", "amr-sh")),
        id="two cases of two agencies",
    ),
    pytest.param(
        [("A", "amr-sh", 0), ("B", "amr-sh", 1)],
        None,
        id="two cases of one agency are below min_cases",
    ),
    pytest.param(
        [("A", "amr-sh", 0), ("B", "amr-sh", 1), ("C", "amr-sh", 2)],
        (("A", "B", "C"), ("amr-sh",)),
        id="three cases of one agency",
    ),
    pytest.param(
        [("A", "amr-sh", -400), ("B", "amr-gd", 0)],
        None,
        id="a sighting outside the window does not count",
    ),
]


@pytest.mark.parametrize(("sightings", "expected"), REPEATS)
def test_repeat_infringer_thresholds(
    sightings: list[tuple[str, str, int]], expected: tuple[tuple[str, ...], ...] | None
) -> None:
    now = T0 + 10 * DAY
    seen = [
        PartySighting(case, agency, T0 + days * DAY, PartyRole.SUSPECT)
        for case, agency, days in sightings
    ]
    signal = repeat_infringer(seen, now, RI)
    assert (None if signal is None else (signal.case_ids, signal.agency_ids)) == expected


@pytest.mark.parametrize(
    "role", [r for r in PartyRole if r is not PartyRole.SUSPECT], ids=lambda r: r.value
)
def test_a_party_named_in_three_cases_in_no_infringers_role_is_no_repeat_infringer(
    role: PartyRole,
) -> None:
    seen = [
        PartySighting(case, agency, T0 + DAY, role)
        for case, agency in (("A", "amr-sh"), ("B", "amr-gd"), ("C", "customs-sh"))
    ]
    assert repeat_infringer(seen, T0 + 10 * DAY, RI) is None


def test_only_the_sightings_as_suspect_count_towards_a_repeat_infringer() -> None:
    seen = [
        PartySighting("A", "amr-sh", T0 + DAY, PartyRole.SUSPECT),
        PartySighting("B", "amr-sh", T0 + DAY, PartyRole.RIGHTS_HOLDER),
        PartySighting("C", "amr-sh", T0 + DAY, PartyRole.CONSIGNEE),
        PartySighting("D", "amr-sh", T0 + DAY, PartyRole.SUSPECT),
    ]
    assert repeat_infringer(seen, T0 + 10 * DAY, RI) is None  # two cases of one agency
    seen.append(PartySighting("E", "amr-sh", T0 + DAY, PartyRole.SUSPECT))
    signal = repeat_infringer(seen, T0 + 10 * DAY, RI)
    assert signal is not None
    assert signal.case_ids == ("A", "D", "E")


ST = SeizureTrendPolicy(window_days=7, min_count=3, growth_factor=2.0)

TRENDS = [
    pytest.param([1, 2, 3], (3, 0), id="three this week, none before"),
    pytest.param([1, 2], None, id="below the minimum"),
    pytest.param([1, 2, 3, 8, 9], None, id="three against two is no jump"),
    pytest.param([1, 2, 3, 4, 8], (4, 1), id="four against one"),
    pytest.param([1, 2, 3, 15, 16, 17, 18], (3, 0), id="two windows ago does not count"),
]


@pytest.mark.parametrize(("days_ago", "expected"), TRENDS)
def test_seizure_trend_thresholds(days_ago: list[int], expected: tuple[int, int] | None) -> None:
    now = T0 + 30 * DAY
    signal = seizure_trend([now - d * DAY + timedelta(hours=1) for d in days_ago], now, ST)
    assert (None if signal is None else (signal.current, signal.previous)) == expected


def test_a_signal_is_raised_again_only_after_a_whole_window() -> None:
    window = timedelta(days=7)
    assert may_raise(None, T0, window)
    assert not may_raise(T0, T0 + 6 * DAY, window)
    assert may_raise(T0, T0 + 7 * DAY, window)
