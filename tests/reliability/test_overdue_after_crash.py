"""A deadline that passes while the coordinator is dead still yields exactly one notice.

The coordinator and the regulator run as ``ipbus run`` processes. Customs refers a case
with a 4-second decision deadline; the coordinator is killed (-9) right after it has
recorded the referral, stays dead past the deadline, and is restarted — twice. Sender and
recipient must each get exactly one ``referral.overdue`` (a customs lead to a regulator has
no supervising procuratorate: it supervises criminal filing only, issue 15).
"""

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from contracts.agencies import IpType
from contracts.cases import CaseOpened, IpRight
from contracts.envelope import publish_subject
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralIssued, ReferralKind
from contracts.subjects import EVENT_STREAM, agency_consumer, parse_event_subject, stored_filter
from services.runtime.bus import coordinator_backlog, coordinator_durables
from services.runtime.identity import Settings, prepare_registry
from tests.conftest import write_policy
from tests.integration.wire import publish, signed, wait_until
from tests.reliability.fleet import Fleet

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]

CUSTOMS, REGULATOR = "customs-shanghai", "amr-shanghai"
POLICY = """
[referral_deadlines]
watch_seconds = 0.2

[[rule]]
name = "referral.decide.customs_to_enforcement"
values = { amount = 4, unit = "seconds" }
source = "test: a deadline short enough to run out (not law)"
effective_from = 2000-01-01
"""
DEADLINE_S = 4.0


async def _overdue_notices(nc: Client) -> Counter[str]:
    """Recipients of every referral.overdue on the stream."""
    js = nc.jetstream()
    info = await js.stream_info(
        EVENT_STREAM, subjects_filter=stored_filter("coordinator", "*", "referral.overdue")
    )
    recipients: Counter[str] = Counter()
    for subject, count in (info.state.subjects or {}).items():
        recipients[parse_event_subject(subject).recipient] += count
    return recipients


@pytest.mark.parametrize("database_url", [None], indirect=False)
async def test_a_deadline_passing_while_the_coordinator_is_dead_is_notified_once(
    scenario_settings: Settings, own_nats_url: str, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, POLICY)
    settings = scenario_settings.model_copy(update={"policy_path": policy})
    prepare_registry(settings.registry_path, settings.keys_dir, settings.effective_registry_path)
    fleet = Fleet(settings, own_nats_url)
    coordinator = fleet.service("coordinator", "coordinator")
    regulator = fleet.service("enforcement", REGULATOR)
    for process in fleet.processes.values():
        process.env["IPBUS_POLICY_PATH"] = str(policy)
    coordinator.start()
    regulator.start()
    nc = await nats.connect(own_nats_url)
    try:
        js = nc.jetstream()

        async def consumers_bound() -> bool:
            try:
                for name in (*await coordinator_durables(js), agency_consumer(REGULATOR)):
                    await js.consumer_info(EVENT_STREAM, name)
            except Exception:
                return False
            return True

        await wait_until(consumers_bound, timeout_s=30, what="both services to bind")
        case_id = new_ulid()
        opened = CaseOpened(
            local_ref="SH-CUS-KILL-1",
            title="Counterfeit handbags",
            ip_rights=[IpRight(type=IpType.TRADEMARK, registration_no="G9", holder="Maison A")],
            parties=[],
            goods=[],
            opened_at=datetime.now(UTC),
        )
        issued = ReferralIssued(
            referral_id=new_ulid(),
            case_id=case_id,
            kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
            reason="trademark infringement",
            legal_basis="Regulations on Customs Protection of IP Rights, art. 27",
            summary="300 handbags",
        )
        opening = signed(settings, CUSTOMS, opened, case_id=case_id)
        await publish(nc, publish_subject(opening, "coordinator"), opening)
        referral = signed(settings, CUSTOMS, issued, case_id=case_id)
        await publish(nc, publish_subject(referral, REGULATOR), referral)
        issued_at = asyncio.get_running_loop().time()

        async def coordinator_has_read_everything() -> bool:
            info = await js.stream_info(
                EVENT_STREAM, subjects_filter=stored_filter(event_type="referral.acknowledged")
            )
            acked = bool(info.state.subjects)
            return acked and await coordinator_backlog(js) == 0

        await wait_until(coordinator_has_read_everything, what="the referral and its receipt")
        coordinator.kill()
        assert await _overdue_notices(nc) == Counter(), "overdue before the deadline"
        await asyncio.sleep(
            max(0.0, issued_at + DEADLINE_S + 2 - asyncio.get_running_loop().time())
        )

        coordinator.start()
        expected = Counter({CUSTOMS: 1, REGULATOR: 1})

        async def notified() -> bool:
            return await _overdue_notices(nc) == expected

        await wait_until(notified, timeout_s=60, what="one overdue notice to each party")
        coordinator.kill()
        coordinator.start()
        await asyncio.sleep(3)  # a second restart, well past the deadline: nothing more
        assert await _overdue_notices(nc) == expected
        print(f"\n[overdue after kill -9] notices per recipient: {dict(expected)}")
    finally:
        await nc.close()
        fleet.stop_all()
