"""The coordinator's watch lists and the counts behind its gauges, on both databases."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.identifiers import new_ulid
from contracts.referrals import ReferralState
from services.coordinator.cases.domain import CaseFile, CaseReferral
from services.coordinator.cases.store import load_referral, save_case
from services.coordinator.metrics.readings import WatchChange
from services.coordinator.metrics.store import (
    apply_watch_change,
    count_overdue,
    count_referrals,
    count_unacknowledged,
    load_overdue_marks,
)
from services.runtime.storage import Database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_overdue_referrals_are_counted_until_they_move_on(database: Database) -> None:
    referral_id, case_id = new_ulid(), new_ulid()
    referral = CaseReferral(
        referral_id,
        "customs_to_enforcement",
        "customs-shanghai",
        "amr-shanghai",
        ReferralState.ACKNOWLEDGED,
        NOW,
        NOW,
    )
    async with database.transaction() as session:
        save_case(session, CaseFile(case_id, referrals={referral_id: referral}), NOW)
    async with database.transaction() as session:
        assert await load_referral(session, referral_id) == referral
        assert await count_referrals(session) == {("customs_to_enforcement", "acknowledged"): 1}
        mark = WatchChange("mark_overdue", referral_id, label=referral.kind, stage="decide")
        await apply_watch_change(session, mark, NOW)
        await apply_watch_change(session, mark, NOW)  # declared twice: still one referral
    async with database.transaction() as session:
        await apply_watch_change(session, mark, NOW)  # and again in a later transaction
    async with database.transaction() as session:
        assert await count_overdue(session) == {("customs_to_enforcement", "decide"): 1}
        await apply_watch_change(session, WatchChange("clear_overdue", referral_id), NOW)
    async with database.transaction() as session:
        assert await count_overdue(session) == {}


@pytest.mark.parametrize("marked_last", [True, False], ids=["clear_then_mark", "mark_then_clear"])
async def test_a_mark_and_a_clear_in_one_transaction_leave_what_came_last(
    database: Database, marked_last: bool
) -> None:
    """A batch may hold a referral's overdue notice and its next step in either order, on
    top of a mark read from the table with the batch's others."""
    referral_id = new_ulid()
    mark = WatchChange("mark_overdue", referral_id, label="customs_to_enforcement", stage="decide")
    clear = WatchChange("clear_overdue", referral_id)
    async with database.transaction() as session:
        await apply_watch_change(session, mark, NOW)
    async with database.transaction() as session:
        await load_overdue_marks(session, {referral_id, new_ulid()})
        for change in [clear, mark] if marked_last else [mark, clear]:
            await apply_watch_change(session, change, NOW + timedelta(hours=1))
    async with database.transaction() as session:
        marked = {("customs_to_enforcement", "decide"): 1} if marked_last else {}
        assert await count_overdue(session) == marked


async def test_unacknowledged_deliveries_by_severity_with_the_oldest_age(
    database: Database,
) -> None:
    first, second = new_ulid(), new_ulid()
    async with database.transaction() as session:
        for warning_id, reader, at in (
            (first, "amr-shanghai", NOW),
            (first, "customs-guangdong", NOW + timedelta(minutes=5)),
            (second, "amr-shanghai", NOW + timedelta(minutes=10)),
        ):
            change = WatchChange("warning_delivered", warning_id, party=reader, label="critical")
            await apply_watch_change(session, change, at)
    later = NOW + timedelta(minutes=30)
    async with database.transaction() as session:
        assert await count_unacknowledged(session, later) == {"critical": (3, 1800.0)}
        ack = WatchChange("warning_acknowledged", first, party="amr-shanghai")
        closed = await apply_watch_change(session, ack, later)
        assert closed is not None
        assert closed.severity == "critical"
        # A second acknowledgement, or one from an agency it was never delivered to, closes nothing.
        assert await apply_watch_change(session, ack, later) is None
        stranger = WatchChange("warning_acknowledged", first, party="psb-shanghai")
        assert await apply_watch_change(session, stranger, later) is None
    async with database.transaction() as session:
        assert await count_unacknowledged(session, later) == {"critical": (2, 1500.0)}
