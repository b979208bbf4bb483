"""Two replicas of an agency service share its consumer and still apply in stream order.

The deployments run every agency service twice (compose, Kubernetes). A referral that is
issued and at once withdrawn reaches the recipient as two events of one case; applied the
other way round, the withdrawal names a referral the recipient does not have, is refused and
dead-lettered, and the sender is told "no such referral". One replica reads the consumer in
stream order, the other stands by (and takes over when the first goes away).

(The sender withdraws before the recipient's receipt reaches it, so the sender refuses the
receipts of referrals it has withdrawn: that crossing is the sender's, not the order's.)
"""

import asyncio

import nats
import pytest

from contracts.identifiers import new_ulid
from contracts.referrals import ReferralKind, ReferralState
from contracts.subjects import DLQ_STREAM, agency_consumer
from services.runtime.identity import Settings
from services.sdk import AgencyAdapter, ReferralRecord
from tests.integration.conftest import StartBus
from tests.integration.wire import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SENDER, RECIPIENT = "customs-shanghai", "amr-shanghai"
REFERRALS = 60


async def test_a_referral_issued_and_withdrawn_reaches_two_replicas_in_that_order(
    settings: Settings, start_bus: StartBus
) -> None:
    bus = await start_bus(settings, [SENDER, RECIPIENT])
    second = await start_bus(settings, [RECIPIENT])  # the recipient's second replica
    sender = bus.services[SENDER]
    assert isinstance(sender, AgencyAdapter)

    async def issue_and_withdraw() -> str:
        async with sender.unit_of_work() as uow:
            issued = await sender.issue_referral(
                uow,
                case_id=new_ulid(),
                to=RECIPIENT,
                kind=ReferralKind.CUSTOMS_TO_ENFORCEMENT,
                reason="suspected counterfeit footwear at the port",
                legal_basis="Decree 395 art. 27",
                summary="1,200 pairs detained",
            )
        async with sender.unit_of_work() as uow:
            await sender.withdraw_referral(uow, issued.referral_id, reason="sent in error")
        return issued.referral_id

    referral_ids = [await issue_and_withdraw() for _ in range(REFERRALS)]

    nc = await nats.connect(bus.nats_url)
    js = nc.jetstream()

    async def withdrawn() -> int:
        async with second.services[RECIPIENT].database.transaction() as session:
            rows = [await session.get(ReferralRecord, r) for r in referral_ids]
        return sum(row is not None and row.state == ReferralState.WITHDRAWN.value for row in rows)

    async def dead_letters() -> int:
        return int((await js.stream_info(DLQ_STREAM)).state.messages)

    async def refused_by_recipient() -> list[str]:
        subjects = [
            (await js.get_msg(DLQ_STREAM, seq)).subject or ""
            for seq in range(1, await dead_letters() + 1)
        ]
        return [s for s in subjects if s.startswith(f"ipbus.dlq.{agency_consumer(RECIPIENT)}.")]

    async def settled() -> bool:  # every one withdrawn, or one refused
        return await withdrawn() == REFERRALS or bool(await refused_by_recipient())

    try:
        await wait_until(settled, timeout_s=60, what="every referral withdrawn at the recipient")
        await asyncio.sleep(1.0)  # a refusal would be dead-lettered after its batch
        assert (await withdrawn(), await refused_by_recipient()) == (REFERRALS, [])

        # each replica says on /metrics whether it reads or stands by; one reads (both may
        # have stepped back at once for the takeover's few seconds)
        def reading() -> list[float | None]:
            labels = {"agency": RECIPIENT, "consumer": agency_consumer(RECIPIENT)}
            return [
                replica.metrics.registry.get_sample_value("ipbus_consumer_reading", labels)
                for replica in (bus, second)
            ]

        async def one_reads() -> bool:
            return 1.0 in reading()

        await wait_until(one_reads, timeout_s=10, what="a replica reading the consumer")
        assert set(reading()) <= {0.0, 1.0}, reading()
    finally:
        await nc.close()
