"""Lawful extensions and clock stops of a referral deadline (issue 15).

The recipient who owes a stage may extend its deadline, or stop and resume its clock, where
a rule allows it: the police extend a transfer's review of a complex case (公通字〔2017〕25号
art. 16); a market regulator extends its check of a transferred lead by 15 working days and
excludes appraisal and identification time (市场监督管理行政处罚程序规定 art. 18); a court
extends its decision on a mediation agreement by 10 days (法释〔2011〕5号 art. 5). These steps
change no referral state; the coordinator moves the deadline and refuses what the rule does
not allow (an extension past the last limit, a stop on a ground the rule does not list).
"""

from enum import StrEnum
from typing import ClassVar

from contracts.identifiers import NonEmptyStr
from contracts.referrals import ReferralPayload, ReferralStage

__all__ = ["ClockStopGround", "ReferralClockResumed", "ReferralClockStopped", "ReferralExtended"]


class ClockStopGround(StrEnum):
    """Why a clock stops: time the law does not count.

    检测、检验、检疫、鉴定以及权利人辨认或者鉴别 (testing, inspection, quarantine, appraisal,
    identification by the right holder)."""

    TESTING = "testing"
    INSPECTION = "inspection"
    QUARANTINE = "quarantine"
    APPRAISAL = "appraisal"
    IDENTIFICATION = "identification"
    """Identification or authentication of the goods by the right holder."""


class ReferralExtended(ReferralPayload):
    """The recipient extends the deadline of a stage it owes, to the rule's next limit."""

    event_type: ClassVar[str] = "referral.extended"

    stage: ReferralStage
    reason: NonEmptyStr
    approved_by: NonEmptyStr | None = None
    """Who approved it, where the rule requires approval (e.g. the county police head)."""


class ReferralClockStopped(ReferralPayload):
    """The recipient stops the clock of a stage it owes, on a ground the rule lists."""

    event_type: ClassVar[str] = "referral.clock_stopped"

    stage: ReferralStage
    ground: ClockStopGround
    reason: NonEmptyStr


class ReferralClockResumed(ReferralPayload):
    """The recipient resumes a stopped clock (the appraisal is in); what was left runs again."""

    event_type: ClassVar[str] = "referral.clock_resumed"

    stage: ReferralStage
    note: str = ""
