"""Credit listing rules, pure: when a listed party may apply for early removal, and when the
listing ends (``credit.<list>`` rules in deploy/policy.toml, SAMR Order 44).

No clock: the day of the listing is an argument.
"""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.credit import CreditList

__all__ = ["ListingPeriod", "add_years", "listing_dates", "listing_rule_name"]


class ListingPeriod(BaseModel):
    """Values of ``credit.<list>``: whole years, as the instrument counts them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    early_removal_after_years: int = Field(ge=0)
    period_years: int = Field(gt=0)


def listing_rule_name(credit_list: CreditList) -> str:
    return f"credit.{credit_list.value}"


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def listing_dates(listed_on: date, period: ListingPeriod) -> tuple[date, date]:
    """(first day early removal may be applied for, last day of the listing at the latest)."""
    if period.early_removal_after_years > period.period_years:
        raise ValueError("early removal cannot come after the end of the listing")
    return (
        add_years(listed_on, period.early_removal_after_years),
        add_years(listed_on, period.period_years),
    )
