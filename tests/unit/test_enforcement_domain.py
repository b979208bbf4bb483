"""Trademark Law art. 60: the ceiling of an administrative fine, and checking a proposed one."""

from decimal import Decimal

import pytest

from contracts.identifiers import Money
from services.enforcement.domain import Penalty, PenaltyRefused, assess_penalty, fine_ceiling
from tests.unit.builders import cny


@pytest.mark.parametrize(
    ("volume", "ceiling"),
    [
        pytest.param("0", "250000", id="no-volume-established"),
        pytest.param("1", "250000", id="one-yuan"),
        pytest.param("49999.99", "250000", id="one-cent-below-threshold"),
        pytest.param("50000", "250000", id="at-threshold-5x-equals-flat"),
        pytest.param("50000.01", "250000.05", id="one-cent-above-threshold"),
        pytest.param("60000", "300000", id="above-threshold"),
        pytest.param("360000", "1800000", id="360k"),
        pytest.param("360000.00", "1800000", id="360k-with-cents"),
    ],
)
def test_the_fine_ceiling_follows_article_60(volume: str, ceiling: str) -> None:
    result = fine_ceiling(cny(volume))

    assert result.currency == "CNY"
    assert result.value == Decimal(ceiling)


@pytest.mark.parametrize("currency", ["USD", "EUR", "HKD"])
def test_a_volume_not_in_cny_is_refused(currency: str) -> None:
    with pytest.raises(PenaltyRefused, match="CNY"):
        fine_ceiling(Money(value=Decimal("360000"), currency=currency))


@pytest.mark.parametrize(
    ("volume", "fine"),
    [
        pytest.param("0", "250000", id="flat-ceiling-exactly"),
        pytest.param("49999.99", "250000.00", id="flat-ceiling-below-threshold"),
        pytest.param("360000", "1800000", id="five-times-exactly"),
        pytest.param("360000", "0", id="no-fine"),
        pytest.param("360000", "12345.67", id="well-below"),
    ],
)
def test_a_fine_up_to_the_ceiling_is_accepted(volume: str, fine: str) -> None:
    penalty = assess_penalty(cny(volume), cny(fine))

    assert penalty == Penalty(illegal_volume=cny(volume), fine=cny(fine))


@pytest.mark.parametrize(
    ("volume", "fine", "ceiling"),
    [
        pytest.param("0", "250000.01", "250000", id="flat"),
        pytest.param("49999.99", "250000.01", "250000", id="below-threshold"),
        pytest.param("360000", "1800000.01", "1800000", id="five-times"),
    ],
)
def test_a_fine_one_cent_above_the_ceiling_is_refused_naming_the_ceiling(
    volume: str, fine: str, ceiling: str
) -> None:
    with pytest.raises(PenaltyRefused) as refused:
        assess_penalty(cny(volume), cny(fine))

    message = str(refused.value)
    assert f"ceiling of {ceiling}" in message
    assert fine in message
    assert volume in message


def test_a_fine_not_in_cny_is_refused() -> None:
    with pytest.raises(PenaltyRefused, match="CNY"):
        assess_penalty(cny("360000"), Money(value=Decimal("1000"), currency="USD"))


def test_a_penalty_note_mentions_both_amounts() -> None:
    note = Penalty(illegal_volume=cny("360000.00"), fine=cny("900000.00")).note

    assert "900000.00 CNY" in note
    assert "360000.00 CNY" in note
    assert note.index("900000.00") < note.index("360000.00")
