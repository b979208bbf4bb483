"""Warning follow-up rules, pure: when a delivery is re-sent, when it is escalated, to whom.

Only ``critical`` warnings are chased. A critical warning not acknowledged within
``redeliver_after_minutes`` of its last delivery is delivered again, up to
``max_redeliveries`` times; after one more window without acknowledgement it is escalated:
``warning.escalated`` goes to the issuer (unless that is the coordinator itself) and to the
procuratorate supervising the silent agency's region (the body that supervises
administrative enforcement under the linkage rules). Expired or retracted warnings are
never chased.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.agencies import Registry
from contracts.subjects import COORDINATOR
from contracts.warnings import Severity

__all__ = [
    "ChaseStep",
    "DeliveryState",
    "WarningPolicy",
    "escalation_recipients",
    "next_check_at",
    "next_step",
]


class WarningPolicy(BaseModel):
    """``[warnings]`` in deploy/policy.toml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redeliver_after_minutes: int = Field(default=60, gt=0)
    max_redeliveries: int = Field(default=1, ge=0)
    watch_seconds: float = Field(default=5.0, gt=0)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.redeliver_after_minutes)


class ChaseStep(StrEnum):
    NONE = "none"
    REDELIVER = "redeliver"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """What the follow-up needs to know of one (warning, recipient) pair."""

    severity: Severity
    expires_at: datetime
    deliveries: int
    last_delivered_at: datetime
    acknowledged: bool = False
    escalated: bool = False
    retracted: bool = False


def _chased(state: DeliveryState, now: datetime) -> bool:
    return (
        state.severity is Severity.CRITICAL
        and not (state.acknowledged or state.escalated or state.retracted)
        and state.expires_at > now
    )


def next_check_at(state: DeliveryState, policy: WarningPolicy) -> datetime | None:
    """When the watcher must look at this delivery again; ``None``: never."""
    if state.severity is not Severity.CRITICAL:
        return None
    if state.acknowledged or state.escalated or state.retracted:
        return None
    return state.last_delivered_at + policy.window


def next_step(state: DeliveryState, now: datetime, policy: WarningPolicy) -> ChaseStep:
    """What to do about this delivery at ``now``."""
    if not _chased(state, now) or now < state.last_delivered_at + policy.window:
        return ChaseStep.NONE
    if state.deliveries <= policy.max_redeliveries:
        return ChaseStep.REDELIVER
    return ChaseStep.ESCALATE


def escalation_recipients(registry: Registry, *, issuer: str, laggard: str) -> list[str]:
    """The issuer (unless the coordinator) and the laggard region's procuratorate."""
    recipients: list[str] = []
    if issuer != COORDINATOR and issuer != laggard:
        recipients.append(issuer)
    supervisor = registry.procuratorate_for(registry.get(laggard).region)
    if supervisor is not None and supervisor.id not in (laggard, *recipients):
        recipients.append(supervisor.id)
    return recipients
