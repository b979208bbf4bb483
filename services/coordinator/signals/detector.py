"""Linkage signals raised by the coordinator itself, from what it sees on the bus.

A ``case.opened`` puts its companies in the party index; a ``goods.detained`` is counted per
HS prefix and port. When :mod:`.rules` says a threshold is crossed, the coordinator issues a
warning to itself — the same ``warning.issued`` any agency sends — so routing, tracking and
the audit trail are the ones every other warning gets.
"""

from datetime import datetime, timedelta

from contracts.agencies import AgencyKind, WarningCategory
from contracts.cases import CaseOpened, Party
from contracts.customs import GoodsDetained
from contracts.envelope import Event
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR
from contracts.warnings import Severity, WarningIssued, WarningTargets
from services.coordinator.cases.parties import index_parties, sightings_of
from services.coordinator.signals.rules import (
    INFRINGER_ROLES,
    LinkagePolicy,
    RepeatInfringer,
    SeizureTrend,
    may_raise,
    repeat_infringer,
    seizure_trend,
)
from services.coordinator.signals.store import (
    DetentionSeenRecord,
    detention_times,
    last_raised,
    mark_raised,
)
from services.runtime.law import RuleNotInForce, policy_section
from services.runtime.storage import take_turns
from services.sdk import ServiceContext, UnitOfWork

__all__ = ["LinkageSignals"]

WARNING_LIFETIME = timedelta(days=30)
LISTING_RULE = "credit.serious_violation"
"""The credit listing a repeat infringer's regulator is pointed at (SAMR Order 44)."""


class LinkageSignals:
    """Watches cases and detentions for linkage signals (the pipeline feeds it)."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.registry = context.registry
        self.log = context.log
        self.linkage_policy = policy_section(context.policy, "linkage", LinkagePolicy)

    def turns(self, event: Event) -> set[str]:
        """The cross-case turns observing ``event`` takes (:func:`take_turns`): the pipeline
        takes a batch's all at once, so two partitions never hold them crosswise."""
        payload = event.payload
        if isinstance(payload, CaseOpened):
            return {f"party:{p.credit_code}" for p in payload.parties if p.credit_code}
        if isinstance(payload, GoodsDetained):
            return {self._detentions_turn(payload)}
        return set()

    def _detentions_turn(self, detained: GoodsDetained) -> str:
        prefix = detained.hs_code[: self.linkage_policy.seizure_trend.hs_prefix_digits]
        return f"detentions:{prefix}@{detained.port}"

    async def observe_linkage(self, uow: UnitOfWork, event: Event, case_id: str) -> None:
        """Feed one case event to the signals (called for every event filed on a case)."""
        payload = event.payload
        if isinstance(payload, CaseOpened):
            await self._parties_seen(uow, payload, case_id, event.sender)
        elif isinstance(payload, GoodsDetained):
            await self._detention_seen(uow, payload, event.sender)

    async def _parties_seen(
        self, uow: UnitOfWork, opened: CaseOpened, case_id: str, agency_id: str
    ) -> None:
        now = uow.now
        policy = self.linkage_policy.repeat_infringer
        # a party's sightings span cases, which other partitions apply at the same time
        await take_turns(
            uow.session, *(f"party:{p.credit_code}" for p in opened.parties if p.credit_code)
        )
        new = await index_parties(
            uow.session, opened, case_id=case_id, agency_id=agency_id, now=now
        )
        for code in new:
            signal = repeat_infringer(await sightings_of(uow.session, code), now, policy)
            key = code
            raised = await last_raised(uow.session, WarningCategory.REPEAT_INFRINGER, key)
            if signal is None or not may_raise(raised, now, policy.window):
                continue
            party = next(
                p for p in opened.parties if p.credit_code == code and p.role in INFRINGER_ROLES
            )
            warning = self._repeat_infringer_warning(party, signal, now)
            await self._raise(uow, warning, key, now)

    async def _detention_seen(self, uow: UnitOfWork, detained: GoodsDetained, sender: str) -> None:
        now = uow.now
        policy = self.linkage_policy.seizure_trend
        prefix = detained.hs_code[: policy.hs_prefix_digits]
        # detentions at a port are counted across cases, applied by several partitions
        await take_turns(uow.session, self._detentions_turn(detained))
        if await uow.session.get(DetentionSeenRecord, detained.detention_id) is not None:
            return
        uow.session.add(
            DetentionSeenRecord(
                detention_id=detained.detention_id,
                hs_prefix=prefix,
                port=detained.port,
                agency_id=sender,
                detained_at=now,
            )
        )
        await uow.session.flush()
        signal = seizure_trend(
            await detention_times(uow.session, prefix, detained.port), now, policy
        )
        key = f"{prefix}@{detained.port}"
        raised = await last_raised(uow.session, WarningCategory.SEIZURE_TREND, key)
        if signal is None or not may_raise(raised, now, policy.window):
            return
        region = self.registry.get(sender).region
        warning = _seizure_trend_warning(
            prefix, detained.port, region, signal, policy.window_days, now
        )
        await self._raise(uow, warning, key, now)

    async def _raise(
        self, uow: UnitOfWork, warning: WarningIssued, key: str, now: datetime
    ) -> None:
        self.log.info("linkage signal raised", category=warning.category.value, subject_key=key)
        # Not caused by, nor filed under, the case that tipped it: a warning is about a
        # party across cases, and its recipients must not become parties to this case.
        detached = UnitOfWork(uow.session, self.context)
        uow.emitted.append(
            detached.emit(warning, to=COORDINATOR, correlation_id=warning.warning_id)
        )
        await mark_raised(uow.session, warning.category.value, key, warning.warning_id, now)

    def _repeat_infringer_warning(
        self, party: Party, signal: RepeatInfringer, now: datetime
    ) -> WarningIssued:
        regions = sorted({self.registry.get(a).region for a in signal.agency_ids})
        days = self.linkage_policy.repeat_infringer.window_days
        return WarningIssued(
            warning_id=new_ulid(),
            category=WarningCategory.REPEAT_INFRINGER,
            severity=Severity.HIGH,
            title=f"Repeat infringer: {party.name} ({party.credit_code})",
            body=(
                f"{party.name}, unified social credit code {party.credit_code}, is named in "
                f"{len(signal.case_ids)} cases opened by {', '.join(signal.agency_ids)} within "
                f"{days} days. Check your own records for this party."
                f"{self._listing_hint(now)}"
            ),
            targets=WarningTargets(regions=regions),
            expires_at=now + WARNING_LIFETIME,
        )

    def _listing_hint(self, now: datetime) -> str:
        """Points a regulator at the serious-violation list; never lists by itself."""
        rules = self.context.rules
        if LISTING_RULE not in rules:
            return ""
        try:
            rule = rules.in_force(LISTING_RULE, now.date())
        except RuleNotInForce:
            return ""
        return (
            " A regulator that imposes a heavier penalty on it may consider listing it on the "
            f"serious-violation list (credit.listed; {rule.source.split(':')[0]} [{rule.version}])."
        )


def _seizure_trend_warning(
    prefix: str, port: str, region: str, signal: SeizureTrend, days: int, now: datetime
) -> WarningIssued:
    return WarningIssued(
        warning_id=new_ulid(),
        category=WarningCategory.SEIZURE_TREND,
        severity=Severity.MEDIUM,
        title=f"Seizures of HS {prefix} at {port} jumped",
        body=(
            f"{signal.current} detentions of HS {prefix} goods at {port} in the last {days} "
            f"days, against {signal.previous} in the {days} days before."
        ),
        targets=WarningTargets(
            kinds=[AgencyKind.CUSTOMS, AgencyKind.ENFORCEMENT],
            regions=[region],
            hs_prefixes=[prefix],
        ),
        expires_at=now + WARNING_LIFETIME,
    )
