"""Who may say what (DESIGN §4a), cell by cell: every event type × every kind of agency.

The expected table is written out here on purpose, independently of ``contracts.senders``:
a change to who may send a type has to change both, and says so in review.
"""

from datetime import UTC, datetime

import pytest

from contracts.agencies import Agency, AgencyKind, JudicialRole
from contracts.events import EVENT_MODELS
from contracts.judicial import AppealedBy, JudgmentAppealed
from contracts.senders import SENDER_RULES, Speaker, in_whose_name, may_send, speakers_of


def _agency(agency_id: str, kind: AgencyKind, role: JudicialRole | None = None) -> Agency:
    return Agency(id=agency_id, kind=kind, region="440000", name=agency_id, role=role)


AGENCIES = {
    "coordinator": _agency("coordinator", AgencyKind.COORDINATOR),
    "customs": _agency("customs-guangdong", AgencyKind.CUSTOMS),
    "enforcement": _agency("amr-guangdong", AgencyKind.ENFORCEMENT),
    "police": _agency("psb-guangdong", AgencyKind.JUDICIAL, JudicialRole.PUBLIC_SECURITY),
    "procuratorate": _agency(
        "procuratorate-guangdong", AgencyKind.JUDICIAL, JudicialRole.PROCURATORATE
    ),
    "court": _agency("court-guangzhou-ip", AgencyKind.JUDICIAL, JudicialRole.COURT),
    "judicial-no-role": _agency("judicial-guangdong", AgencyKind.JUDICIAL),
    "overseas": _agency("overseas-center", AgencyKind.OVERSEAS),
    "mediation": _agency("mediation-guangdong", AgencyKind.MEDIATION),
}
COLUMNS = tuple(AGENCIES)

_ = False
X = True
# co coordinator · cu customs · en enforcement · po police · pr procuratorate · ct court
# j? judicial without a role · ov overseas centre · me mediation centre
# fmt: off
EXPECTED: dict[str, tuple[bool, ...]] = {
    #                                      co  cu  en  po  pr  ct  j?  ov  me
    "case.opened":                        (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "case.status_changed":                (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "case.closed":                        (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "case.cancelled":                     (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "evidence.attached":                  (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "evidence.received":                  (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.issued":                    (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.acknowledged":              (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.accepted":                  (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.declined":                  (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.concluded":                 (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.withdrawn":                 (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.reconsideration_requested": (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.decline_upheld":            (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.supervision_opened":        (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.refusal_explained":         (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.extended":                  (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.clock_stopped":             (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.clock_resumed":             (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.items_handed_over":         (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "oversight.flagged":                  (X,  _,  _,  _,  _,  _,  _,  _,  _),
    "oversight.suggested":                (_,  _,  _,  _,  X,  _,  _,  _,  _),
    "oversight.answered":                 (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "referral.filing_notified":           (_,  _,  _,  _,  X,  _,  _,  _,  _),
    "referral.supervision_closed":        (_,  _,  _,  _,  X,  _,  _,  _,  _),
    "referral.overdue":                   (X,  _,  _,  _,  _,  _,  _,  _,  _),
    "referral.copied":                    (X,  _,  _,  _,  _,  _,  _,  _,  _),
    "referral.refused":                   (X,  X,  X,  X,  X,  X,  X,  X,  X),
    "warning.issued":                     (X,  X,  X,  X,  X,  X,  X,  X,  X),
    "warning.delivered":                  (X,  _,  _,  _,  _,  _,  _,  _,  _),
    "warning.acknowledged":               (_,  X,  X,  X,  X,  X,  X,  X,  X),
    "warning.retracted":                  (X,  X,  X,  X,  X,  X,  X,  X,  X),
    "warning.escalated":                  (X,  _,  _,  _,  _,  _,  _,  _,  _),
    "goods.detained":                     (_,  X,  _,  _,  _,  _,  _,  _,  _),
    "goods.released":                     (_,  X,  _,  _,  _,  _,  _,  _,  _),
    "goods.confiscated":                  (_,  X,  _,  _,  _,  _,  _,  _,  _),
    "judgment.rendered":                  (_,  _,  _,  _,  _,  X,  _,  _,  _),
    "confirmation.issued":                (_,  _,  _,  _,  _,  X,  _,  _,  _),
    "judgment.appealed":                  (_,  _,  _,  _,  X,  X,  _,  _,  _),
    "judgment.final":                     (_,  _,  _,  _,  _,  X,  _,  _,  _),
    "prosecution.declined":               (_,  _,  _,  _,  X,  _,  _,  _,  _),
}
# fmt: on

CELLS = [
    pytest.param(event_type, column, allowed, id=f"{event_type}-by-{column}")
    for event_type, row in EXPECTED.items()
    for column, allowed in zip(COLUMNS, row, strict=True)
]


def test_the_table_has_a_row_for_exactly_every_event_type() -> None:
    assert set(SENDER_RULES) == set(EVENT_MODELS)
    assert set(EXPECTED) == set(EVENT_MODELS)
    assert all(SENDER_RULES.values()), "a row that allows nobody is a type nobody may send"


@pytest.mark.parametrize(("event_type", "column", "allowed"), CELLS)
def test_each_cell_allows_or_refuses_as_designed(
    event_type: str, column: str, allowed: bool
) -> None:
    assert may_send(event_type, AGENCIES[column]) is allowed


@pytest.mark.parametrize("column", COLUMNS)
def test_a_type_outside_the_catalogue_may_come_from_nobody(column: str) -> None:
    assert may_send("case.hijacked", AGENCIES[column]) is False


@pytest.mark.parametrize(
    ("column", "speakers"),
    [
        ("coordinator", {Speaker.COORDINATOR}),
        ("customs", {Speaker.AGENCY, Speaker.CUSTOMS}),
        ("enforcement", {Speaker.AGENCY}),
        ("police", {Speaker.AGENCY}),
        ("procuratorate", {Speaker.AGENCY, Speaker.PROCURATORATE}),
        ("court", {Speaker.AGENCY, Speaker.COURT}),
        ("judicial-no-role", {Speaker.AGENCY}),
        ("overseas", {Speaker.AGENCY}),
        ("mediation", {Speaker.AGENCY}),
    ],
)
def test_an_agency_speaks_as_its_kind_and_role_say(column: str, speakers: set[Speaker]) -> None:
    assert speakers_of(AGENCIES[column]) == speakers


@pytest.mark.parametrize("appealed_by", list(AppealedBy))
@pytest.mark.parametrize("column", ["procuratorate", "court"])
def test_a_procuratorate_challenges_a_judgment_only_in_its_own_name(
    column: str, appealed_by: AppealedBy
) -> None:
    """Its protest is its own; a defendant's or party's appeal is the court's to record,
    and so is a protest lodged through the court (all signed bodies: no history needed)."""
    appeal = JudgmentAppealed(
        case_id="01J9ZQ4B6WJ1T3D5F7H9K1M3P5",
        court_ref="(2026)沪73刑初1号",
        appealed_by=appealed_by,
        appealed_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
    )
    problem = in_whose_name(appeal, AGENCIES[column])
    refused = column == "procuratorate" and appealed_by is not AppealedBy.PROCURATORATE
    assert (problem is not None) == refused
    if problem is not None:
        assert appealed_by.value in problem
