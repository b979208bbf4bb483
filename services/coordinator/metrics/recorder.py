"""The coordinator's metrics: readings from each applied event, gauges from its tables."""

from functools import partial

from contracts.envelope import Event
from contracts.referrals import ReferralKind, ReferralStage, ReferralState
from contracts.warnings import Severity
from services.coordinator.audit.store import audit_length
from services.coordinator.cases.domain import CaseReferral
from services.coordinator.metrics.readings import Reading, readings_for, watch_change_for
from services.coordinator.metrics.store import (
    apply_watch_change,
    count_overdue,
    count_referrals,
    count_unacknowledged,
)
from services.runtime.bus import Clock
from services.runtime.ops import AgencyMetrics
from services.runtime.storage import Database
from services.sdk import UnitOfWork

__all__ = ["observe_event", "refresh_gauges"]


async def observe_event(
    uow: UnitOfWork, event: Event, referral: CaseReferral | None, metrics: AgencyMetrics
) -> None:
    """Update the watch lists in the event's transaction; record its readings once committed.

    ``referral``: the referral the event is about, as it stands after the event, if any.
    """
    change = watch_change_for(event.payload, event.sender, event.recipient, referral)
    if change is not None:
        closed = await apply_watch_change(uow.session, change, event.envelope.time)
        if change.action == "warning_delivered":
            uow.after_commit(partial(metrics.warning_delivered, change.label))
        if closed is not None:
            uow.after_commit(partial(metrics.warning_acknowledged, closed.severity))
    for reading in readings_for(event.payload, event.envelope.time, referral):
        uow.after_commit(partial(_record, metrics, reading))


def _record(metrics: AgencyMetrics, reading: Reading) -> None:
    match reading.name:
        case "referral_issued":
            metrics.referral_issued(*reading.labels)
        case "acknowledged_after":
            metrics.referral_acknowledged_after(reading.labels[0], reading.value)
        case "decided_after":
            metrics.referral_decided_after(reading.labels[0], reading.labels[1], reading.value)
        case "overdue_declared":
            metrics.referral_overdue_declared(*reading.labels)
        case "warning_issued":
            metrics.warning_issued(*reading.labels)
        case "evidence_received":
            metrics.evidence_received(*reading.labels)


async def refresh_gauges(database: Database, clock: Clock, metrics: AgencyMetrics) -> None:
    """Referrals by kind and state, overdue referrals, unacknowledged warnings, audit length."""
    async with database.transaction() as session:
        chain = await audit_length(session)
        referrals = await count_referrals(session)
        overdue = await count_overdue(session)
        unacknowledged = await count_unacknowledged(session, clock.now())
    kinds = [k.value for k in ReferralKind]
    metrics.referral_counts(referrals, kinds, [s.value for s in ReferralState])
    metrics.overdue_counts(overdue, kinds, [s.value for s in ReferralStage])
    metrics.unacknowledged_warnings(unacknowledged, [s.value for s in Severity])
    metrics.audit_chain_length(chain)
