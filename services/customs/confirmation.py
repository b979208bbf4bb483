"""The rights holder's confirmation window on a detention, pure.

Customs detains on the rights holder's application or ex officio; either way the rights
holder must confirm (apply and post a bond) within the window or the goods are released:
10 working days, 3 for perishable goods (policy table ``[customs_confirmation]``; cf.
Regulations on Customs Protection of IP Rights arts. 15–16, 24).
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.business_calendar import BusinessCalendar, Period, PeriodUnit, due_at

__all__ = ["ConfirmationPolicy", "confirmation_due", "release_reason"]


class ConfirmationPolicy(BaseModel):
    """Policy table ``[customs_confirmation]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: int = Field(default=10, gt=0)
    perishable_working_days: int = Field(default=3, gt=0)
    watch_seconds: float = Field(default=60.0, gt=0)

    def window(self, perishable: bool) -> Period:
        days = self.perishable_working_days if perishable else self.working_days
        return Period(amount=days, unit=PeriodUnit.WORKING_DAYS)


def confirmation_due(
    detained_at: datetime,
    *,
    perishable: bool,
    policy: ConfirmationPolicy,
    calendar: BusinessCalendar,
) -> datetime:
    """When an unconfirmed detention must end in release."""
    return due_at(detained_at, policy.window(perishable), calendar)


def release_reason(*, perishable: bool, policy: ConfirmationPolicy) -> str:
    goods = "perishable goods" if perishable else "goods"
    return (
        f"the rights holder did not confirm the detention of {goods} within "
        f"{policy.window(perishable).describe()}"
    )
