"""The coordinator's query rate limit on a running bus: one agency asking in a loop is
refused with a clear error, counted, while another agency is still answered."""

from pathlib import Path

import pytest

from contracts.subjects import COORDINATOR
from services.sdk import query_case
from tests.conftest import write_policy
from tests.integration.conftest import StartBus
from tests.integration.test_secured_bus import AGENCIES, CUSTOMS, REGULATOR, _settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ABSENT = "01JABCDEFGHJKMNPQRSTVWXYZ0"


async def test_a_requester_over_its_rate_is_refused_and_counted(
    tmp_path: Path, start_bus: StartBus
) -> None:
    policy = write_policy(
        tmp_path,
        replace={
            "per_requester_per_minute = 600": "per_requester_per_minute = 1",
            "burst = 60": "burst = 3",
        },
    )
    bus = await start_bus(_settings(tmp_path, policy_path=policy), AGENCIES)
    customs = await bus.connect(CUSTOMS, name="asks-in-a-loop")
    regulator = await bus.connect(REGULATOR, name="asks-once")
    try:
        errors = [
            (await query_case(customs, requester=CUSTOMS, case_id=ABSENT)).error for _ in range(5)
        ]
        other = await query_case(regulator, requester=REGULATOR, case_id=ABSENT)
    finally:
        await customs.close()
        await regulator.close()
    limited = [e for e in errors if e and e.startswith("rate_limited:")]
    assert len(limited) == 2, errors  # burst 3 answered (as "not found"), then refused
    assert other.error is not None
    assert not other.error.startswith("rate_limited")
    labels = {"agency": COORDINATOR, "requester": CUSTOMS, "reason": "rate_limited"}
    assert bus.metrics.registry.get_sample_value("ipbus_queries_refused_total", labels) == 2
