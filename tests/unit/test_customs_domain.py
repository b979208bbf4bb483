"""Customs rules: a detention becomes a goods.detained event and names its case."""

import pytest

from contracts.agencies import IpType
from contracts.cases import IpRight, Party, PartyKind, PartyRole
from services.customs.domain import Detention, case_title, detained_goods
from tests.unit.builders import CREDIT_CODE, cny

DETENTION_ID = "01JABCDEFGHJKMNPQRSTVWXYZ2"
CASE_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"


def detention(ip_type: IpType = IpType.TRADEMARK, *, perishable: bool = True) -> Detention:
    return Detention(
        local_ref="沪关缉〔2026〕1号",
        port="Shanghai Yangshan",
        hs_code="6403990090",
        description="sports shoes",
        quantity=1200,
        declared_value=cny("98000.50"),
        ip_right=IpRight(type=ip_type, registration_no="G1234567", holder="Acme Co."),
        rights_holder="Acme Co. (Shanghai)",
        parties=(
            Party(
                kind=PartyKind.LEGAL_PERSON,
                role=PartyRole.CONSIGNEE,
                name="某某贸易有限公司",
                credit_code=CREDIT_CODE,
            ),
        ),
        perishable=perishable,
    )


def test_a_detention_carries_every_field_into_the_event() -> None:
    event = detained_goods(detention(), detention_id=DETENTION_ID, case_id=CASE_ID)

    assert event.model_dump(mode="json") == {
        "detention_id": DETENTION_ID,
        "case_id": CASE_ID,
        "port": "Shanghai Yangshan",
        "hs_code": "6403990090",
        "quantity": 1200,
        "declared_value": {"value": "98000.50", "currency": "CNY"},
        "ip_right": {
            "type": "trademark",
            "registration_no": "G1234567",
            "holder": "Acme Co.",
            "description": None,
        },
        "rights_holder": "Acme Co. (Shanghai)",
        "perishable": True,
        "basis": None,  # set by the customs service, which knows the article it detains under
        "release_due_at": None,
        "rule_version": None,
    }


@pytest.mark.parametrize("perishable", [True, False])
def test_perishability_is_carried_over_either_way(perishable: bool) -> None:
    event = detained_goods(
        detention(perishable=perishable), detention_id=DETENTION_ID, case_id=CASE_ID
    )

    assert event.perishable is perishable


def test_the_goods_of_a_detention_describe_what_was_held() -> None:
    goods = detention().goods

    assert (goods.description, goods.hs_code, goods.quantity) == (
        "sports shoes",
        "6403990090",
        1200,
    )
    assert goods.declared_value == cny("98000.50")


@pytest.mark.parametrize(
    ("ip_type", "named"),
    [
        (IpType.TRADEMARK, "trademark"),
        (IpType.PATENT, "patent"),
        (IpType.COPYRIGHT, "copyright"),
    ],
)
def test_the_case_title_names_the_right_the_goods_and_the_port(ip_type: IpType, named: str) -> None:
    title = case_title(detention(ip_type))

    assert named in title
    assert "sports shoes" in title
    assert "Shanghai Yangshan" in title
