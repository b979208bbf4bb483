"""Credit listings, pure: the periods a listing runs, who lifts it, and where it is routed."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from contracts.agencies import WarningCategory
from contracts.credit import CreditDelisted, CreditList, CreditListed, DelistingReason, ListingState
from services.coordinator.credit.rules import (
    ListingNotPermitted,
    ListingRefused,
    apply_delisting,
    apply_listing,
    credit_warning,
    listing_view,
)
from services.coordinator.warnings.routing import route_warning
from services.enforcement.credit import ListingPeriod, add_years, listing_dates
from services.runtime.identity import load_registry
from services.runtime.law import RuleBook, RuleNotInForce, load_policy

REPO_ROOT = Path(__file__).resolve().parents[2]

CODE = "91350100M000100Y43"
WHEN = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _listed(decision: str = "沪市监列严〔2026〕1号") -> CreditListed:
    return CreditListed(
        credit_code=CODE,
        party_name="某某贸易有限公司",
        credit_list=CreditList.SERIOUS_VIOLATION,
        grounds="intentional trademark infringement",
        legal_basis="SAMR Order 44 art. 9",
        decision_ref=decision,
        listed_at=WHEN,
        removal_from=date(2027, 3, 2),
        expires_on=date(2029, 3, 2),
    )


def _delisted(reason: DelistingReason = DelistingReason.EARLY_REMOVAL) -> CreditDelisted:
    return CreditDelisted(
        credit_code=CODE,
        credit_list=CreditList.SERIOUS_VIOLATION,
        reason=reason,
        grounds="credit repaired",
        decision_ref="沪市监移严〔2027〕1号",
        delisted_at=WHEN,
    )


def test_the_policy_rule_gives_early_removal_after_one_year_and_the_end_after_three() -> None:
    rules = RuleBook.from_policy(load_policy(REPO_ROOT / "deploy" / "policy.toml"))
    rule = rules.in_force("credit.serious_violation", date(2026, 3, 2))
    assert rule.version == "credit.serious_violation@2021-09-01"
    assert "SAMR Order 44" in rule.source
    period = rule.values_as(ListingPeriod)
    assert listing_dates(date(2026, 3, 2), period) == (date(2027, 3, 2), date(2029, 3, 2))


def test_the_rule_is_not_in_force_before_order_44() -> None:
    rules = RuleBook.from_policy(load_policy(REPO_ROOT / "deploy" / "policy.toml"))
    assert "credit.serious_violation" in rules
    with pytest.raises(RuleNotInForce):
        rules.in_force("credit.serious_violation", date(2021, 8, 31))


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2026, 3, 2), 1, date(2027, 3, 2)),
        (date(2028, 2, 29), 1, date(2029, 2, 28)),
        (date(2028, 2, 29), 4, date(2032, 2, 29)),
    ],
)
def test_years_are_calendar_years(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected


def test_early_removal_after_the_end_is_a_misconfiguration() -> None:
    with pytest.raises(ValueError, match="early removal"):
        listing_dates(date(2026, 1, 1), ListingPeriod(early_removal_after_years=4, period_years=3))


def test_a_listing_then_its_lifting_by_the_regulator_that_decided_it() -> None:
    listing = apply_listing(None, _listed(), sender="amr-shanghai", case_id="C1")
    assert listing.state is ListingState.LISTED
    assert listing.listed_by == "amr-shanghai"
    lifted = apply_delisting(listing, _delisted(), sender="amr-shanghai")
    assert lifted.state is ListingState.DELISTED
    assert lifted.delisting_reason == "early_removal"
    view = listing_view(lifted)
    assert view.delisting_reason is DelistingReason.EARLY_REMOVAL
    assert view.decision_ref == "沪市监列严〔2026〕1号"
    # listed again after being lifted: a new decision
    again = apply_listing(
        lifted, _listed("沪市监列严〔2028〕1号"), sender="amr-guangdong", case_id="C2"
    )
    assert again.state is ListingState.LISTED
    assert again.listed_by == "amr-guangdong"


def test_a_company_is_not_listed_twice() -> None:
    listing = apply_listing(None, _listed(), sender="amr-shanghai", case_id="C1")
    with pytest.raises(ListingRefused, match="already on the serious_violation list"):
        apply_listing(listing, _listed("other"), sender="amr-guangdong", case_id="C2")


def test_only_the_listing_regulator_lifts_it() -> None:
    listing = apply_listing(None, _listed(), sender="amr-shanghai", case_id="C1")
    with pytest.raises(ListingNotPermitted, match="only amr-shanghai"):
        apply_delisting(listing, _delisted(), sender="amr-guangdong")


def test_nothing_to_lift_is_a_refused_step() -> None:
    with pytest.raises(ListingRefused, match="is not on the"):
        apply_delisting(None, _delisted(), sender="amr-shanghai")
    listing = apply_listing(None, _listed(), sender="amr-shanghai", case_id="C1")
    lifted = apply_delisting(listing, _delisted(), sender="amr-shanghai")
    with pytest.raises(ListingRefused, match="is not on the"):
        apply_delisting(lifted, _delisted(), sender="amr-shanghai")


def test_the_warning_goes_to_the_agencies_interested_in_credit_listings_in_those_regions() -> None:
    registry = load_registry(REPO_ROOT / "deploy" / "agencies.toml")
    listing = apply_listing(None, _listed(), sender="amr-shanghai", case_id="C1")
    warning = credit_warning(listing, ["310000", "440000", "310000"], WHEN)
    assert warning.category is WarningCategory.CREDIT_LISTING
    assert warning.targets.regions == ["310000", "440000"]
    assert "2029-03-02" in warning.body
    recipients = {m.agency_id for m in route_warning(warning, registry, issuer="coordinator")}
    assert {"amr-guangdong", "customs-shanghai", "customs-guangdong", "psb-shanghai"} <= recipients
    assert "procuratorate-shanghai" not in recipients
    assert "overseas-center" not in recipients
    only_shanghai = credit_warning(listing, ["310000"], WHEN)
    shanghai = {m.agency_id for m in route_warning(only_shanghai, registry, issuer="coordinator")}
    assert "amr-guangdong" not in shanghai


def test_ipbus_case_show_prints_the_standing_of_the_companies_a_case_names() -> None:
    from io import StringIO

    from rich.console import Console

    from contracts.cases import CaseStatus
    from contracts.queries import CaseView
    from services.cli.render import case_table

    listing = apply_listing(None, _listed(), sender="amr-shanghai", case_id="C1")
    lifted = apply_delisting(listing, _delisted(), sender="amr-shanghai")
    out = StringIO()
    for standing, expected in ((listing, "until 2029-03-02"), (lifted, "lifted 2026-03-02")):
        case = CaseView(
            case_id="01JBX0000000000000000000B1",
            title="t",
            status=CaseStatus.OPEN,
            parties=[],
            referrals=[],
            timeline=[],
            credit_listings=[listing_view(standing)],
        )
        case_table(case, Console(file=out, width=200))
        assert expected in out.getvalue()
