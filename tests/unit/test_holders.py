"""Rights holders through a desk (issue 19 part 2), pure: the registry's ``represents``,
the desk speaking only in a represented holder's name, and the bond bands of the GAC's
measures as the policy table states them."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.agencies import AgencyKind, RegistryError, parse_registry
from contracts.holders import HolderApplied, HolderDeclined
from contracts.identifiers import Money
from contracts.senders import in_whose_name, may_send
from services.coordinator.deadlines.store import HOLDER_NOTICE, DeadlineRecord
from services.coordinator.holders import HOLDER_WINDOW, is_holder_deadline, lapse_notices
from services.customs.bond import BondBands, BondTooLow, bond_required, check_bond
from services.runtime.law import RuleBook, load_policy

DEPLOY = Path(__file__).parents[2] / "deploy"
NOTICE = "01JABCDEFGHJKMNPQRSTVWXYZ0"
COORDINATOR = (
    '[[agencies]]\nid = "coordinator"\nkind = "coordinator"\nregion = "100000"\nname = "C"\n'
)


def _desk(desk_id: str, *holders: str, kind: str = "rightsholders") -> str:
    listed = ", ".join(f'"{h}"' for h in holders)
    return (
        f'[[agencies]]\nid = "{desk_id}"\nkind = "{kind}"\nregion = "100000"\nname = "D"\n'
        f"represents = [{listed}]\n"
    )


def test_a_desk_lists_the_holders_it_represents_and_the_registry_finds_it_by_holder() -> None:
    registry = parse_registry(COORDINATOR + _desk("desk-a", "Acme Co.", "Bolt Ltd."))
    found = registry.desk_for("Bolt Ltd.")
    assert found is not None
    assert found.id == "desk-a"
    assert found.kind is AgencyKind.RIGHTS_HOLDERS
    assert registry.desk_for("Nobody Inc.") is None


def test_a_holder_represented_by_two_desks_is_refused_as_ambiguous() -> None:
    with pytest.raises(RegistryError, match="represented by both"):
        parse_registry(COORDINATOR + _desk("desk-a", "Acme Co.") + _desk("desk-b", "Acme Co."))


def test_only_a_rights_holder_desk_may_list_holders() -> None:
    with pytest.raises(RegistryError, match="only for rights-holder desks"):
        parse_registry(COORDINATOR + _desk("customs-x", "Acme Co.", kind="customs"))


def test_the_deployed_registry_has_one_desk() -> None:
    registry = parse_registry((DEPLOY / "agencies.toml").read_text())
    assert [a.id for a in registry.of_kind(AgencyKind.RIGHTS_HOLDERS)] == ["holders-desk"]


def test_a_desk_answers_only_in_the_name_of_a_holder_it_represents() -> None:
    registry = parse_registry(COORDINATOR + _desk("desk-a", "Acme Co."))
    desk = registry.get("desk-a")
    bond = Money(value="20000", currency="CNY")
    ours = HolderApplied(notice_id=NOTICE, holder="Acme Co.", bond=bond, application_ref="A-1")
    theirs = HolderDeclined(notice_id=NOTICE, holder="Other Co.", reason="not ours")
    assert may_send("holder.applied", desk)
    assert in_whose_name(ours, desk) is None
    assert in_whose_name(theirs, desk) == "desk-a does not represent holder 'Other Co.'"


def test_a_desk_is_no_authority_it_opens_no_case_and_issues_no_warning() -> None:
    desk = parse_registry(COORDINATOR + _desk("desk-a", "Acme Co.")).get("desk-a")
    for event_type in ("case.opened", "referral.issued", "warning.issued", "goods.released"):
        assert not may_send(event_type, desk), event_type


BANDS = BondBands.model_validate(
    RuleBook.from_policy(load_policy(DEPLOY / "policy.toml"))
    .in_force("customs.bond.ex_officio", date(2026, 3, 2))
    .values
)


@pytest.mark.parametrize(
    ("value", "bond"),
    [
        ("0.01", "0.01"),  # below RMB 20,000: the value itself
        ("19999.99", "19999.99"),
        ("20000", "20000"),  # 20,000 to 200,000: half, and at least 20,000
        ("39999", "20000"),
        ("60000", "30000"),
        ("200000", "100000"),
        ("200000.01", "100000"),  # above 200,000: RMB 100,000
        ("5000000", "100000"),
    ],
)
def test_the_bond_follows_the_bands_of_the_gac_measures(value: str, bond: str) -> None:
    required = bond_required(Money(value=value, currency="CNY"), BANDS)
    assert required.value == Decimal(bond)
    assert required.currency == "CNY"


def test_a_bond_short_of_the_band_or_in_another_currency_is_refused() -> None:
    goods = Money(value="60000", currency="CNY")
    check_bond(Money(value="30000", currency="CNY"), goods, BANDS, "r@1")
    with pytest.raises(BondTooLow, match="less than the 30000"):
        check_bond(Money(value="29999.99", currency="CNY"), goods, BANDS, "r@1")
    with pytest.raises(BondTooLow):
        check_bond(Money(value="30000", currency="USD"), goods, BANDS, "r@1")


def _window_row(desk: str) -> DeadlineRecord:
    return DeadlineRecord(
        referral_id=NOTICE,
        stage=HOLDER_WINDOW,
        case_id="01JABCDEFGHJKMNPQRSTVWXYZ1",
        kind=HOLDER_NOTICE,
        sender="customs-shanghai",
        recipient=desk,
        started_at=datetime(2026, 3, 2, 2, tzinfo=UTC),
        due_at=datetime(2026, 3, 5, 16, tzinfo=UTC),
        period="3 working days",
    )


def test_a_lapsed_window_is_reported_to_customs_and_to_the_desk() -> None:
    sent = lapse_notices(_window_row("holders-desk"))
    assert [to for to, _ in sent] == ["customs-shanghai", "holders-desk"]
    assert {n.notice_id for _, n in sent} == {NOTICE}
    assert is_holder_deadline(_window_row("holders-desk"))


def test_without_a_desk_for_the_holder_only_customs_hears_of_the_lapse() -> None:
    assert [to for to, _ in lapse_notices(_window_row("coordinator"))] == ["customs-shanghai"]
