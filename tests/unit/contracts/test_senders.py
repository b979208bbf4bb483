"""Who may say what (DESIGN §4a), cell by cell: every event type × every kind of agency.

The expected table is written out here on purpose, independently of ``contracts.senders``:
a change to who may send a type has to change both, and says so in review.
"""

from datetime import UTC, datetime

import pytest

from contracts.agencies import Agency, AgencyKind, JudicialRole
from contracts.cases import CaseStatus, CaseStatusChanged
from contracts.events import EVENT_MODELS
from contracts.judicial import AppealedBy, JudgmentAppealed
from contracts.referrals import AssistancePurpose, ReferralIssued, ReferralKind
from contracts.senders import (
    JUDICIAL_STATUSES,
    SENDER_RULES,
    Speaker,
    in_whose_name,
    may_send,
    referral_route_problem,
    speakers_of,
)


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
    "holders": Agency(
        id="holders-desk",
        kind=AgencyKind.RIGHTS_HOLDERS,
        region="100000",
        name="desk",
        represents=("Acme Co.",),
    ),
}
COLUMNS = tuple(AGENCIES)

_ = False
X = True
# co coordinator · cu customs · en enforcement · po police · pr procuratorate · ct court
# j? judicial without a role · ov overseas centre · me mediation centre · rh rights-holder desk
# fmt: off
EXPECTED: dict[str, tuple[bool, ...]] = {
    #                                      co  cu  en  po  pr  ct  j?  ov  me  rh
    "holder.notified":                    (X,  X,  _,  _,  _,  _,  _,  _,  _,  _),
    "holder.applied":                     (X,  _,  _,  _,  _,  _,  _,  _,  _,  X),
    "holder.declined":                    (X,  _,  _,  _,  _,  _,  _,  _,  _,  X),
    "holder.lapsed":                      (X,  _,  _,  _,  _,  _,  _,  _,  _,  _),
    "case.opened":                        (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "case.status_changed":                (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "case.closed":                        (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "case.cancelled":                     (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.issued":                    (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.acknowledged":              (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.accepted":                  (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.declined":                  (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.concluded":                 (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.withdrawn":                 (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.reconsideration_requested": (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.decline_upheld":            (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.supervision_opened":        (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.refusal_explained":         (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.extended":                  (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.clock_stopped":             (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.clock_resumed":             (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.items_handed_over":         (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "oversight.flagged":                  (X,  _,  _,  _,  _,  _,  _,  _,  _,  _),
    "oversight.suggested":                (_,  _,  _,  _,  X,  _,  _,  _,  _,  _),
    "oversight.answered":                 (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "referral.filing_notified":           (_,  _,  _,  _,  X,  _,  _,  _,  _,  _),
    "referral.supervision_closed":        (_,  _,  _,  _,  X,  _,  _,  _,  _,  _),
    "referral.overdue":                   (X,  _,  _,  _,  _,  _,  _,  _,  _,  _),
    "referral.copied":                    (X,  _,  _,  _,  _,  _,  _,  _,  _,  _),
    "referral.refused":                   (X,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "warning.issued":                     (X,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "warning.delivered":                  (X,  _,  _,  _,  _,  _,  _,  _,  _,  _),
    "warning.acknowledged":               (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "warning.retracted":                  (X,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "warning.escalated":                  (X,  _,  _,  _,  _,  _,  _,  _,  _,  _),
    "goods.detained":                     (_,  X,  _,  _,  _,  _,  _,  _,  _,  _),
    "goods.released":                     (_,  X,  _,  _,  _,  _,  _,  _,  _,  _),
    "goods.confiscated":                  (_,  X,  _,  _,  _,  _,  _,  _,  _,  _),
    "judgment.rendered":                  (_,  _,  _,  _,  _,  X,  _,  _,  _,  _),
    "confirmation.issued":                (_,  _,  _,  _,  _,  X,  _,  _,  _,  _),
    "judgment.appealed":                  (_,  _,  _,  _,  X,  X,  _,  _,  _,  _),
    "judgment.final":                     (_,  _,  _,  _,  _,  X,  _,  _,  _,  _),
    "prosecution.declined":               (_,  _,  _,  _,  X,  _,  _,  _,  _,  _),
    "credit.listed":                      (_,  _,  X,  _,  _,  _,  _,  _,  _,  _),
    "credit.delisted":                    (_,  _,  X,  _,  _,  _,  _,  _,  _,  _),
    "evidence.attached":                  (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
    "evidence.received":                  (_,  X,  X,  X,  X,  X,  X,  X,  X,  _),
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
        ("enforcement", {Speaker.AGENCY, Speaker.ENFORCEMENT}),
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


STATUS_SAYERS = {
    CaseStatus.PROSECUTING: {"procuratorate"},
    CaseStatus.IN_TRIAL: {"court"},
    CaseStatus.JUDGED: {"court"},
}
"""Written out, not derived from JUDICIAL_STATUSES: the table the code must match."""


@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize("column", [c for c in AGENCIES if c not in ("coordinator", "holders")])
def test_a_status_that_records_a_judicial_act_is_said_by_the_body_that_performs_it(
    column: str, status: CaseStatus
) -> None:
    change = CaseStatusChanged(local_ref="L-1", status=status, note="")
    problem = in_whose_name(change, AGENCIES[column])
    refused = status in STATUS_SAYERS and column not in STATUS_SAYERS[status]
    assert (problem is not None) == refused, problem
    if problem is not None:
        assert status.value in problem
    assert set(JUDICIAL_STATUSES) == set(STATUS_SAYERS)


def _assistance(kind: ReferralKind = ReferralKind.REGULATOR_ASSISTANCE) -> ReferralIssued:
    return ReferralIssued(
        referral_id="01JBX0000000000000000000A1",
        case_id="01JBX0000000000000000000B1",
        kind=kind,
        reason="the supplier sits in Shanghai",
        legal_basis="assistance letter",
        summary="investigate the supplier",
        purpose=AssistancePurpose.INVESTIGATE_LEAD
        if kind is ReferralKind.REGULATOR_ASSISTANCE
        else None,
    )


AMR_SHANGHAI = Agency(
    id="amr-shanghai", kind=AgencyKind.ENFORCEMENT, region="310000", name="amr-shanghai"
)
AMR_PUDONG = Agency(
    id="amr-pudong", kind=AgencyKind.ENFORCEMENT, region="310115", name="amr-pudong"
)


def test_assistance_between_regulators_of_two_provinces_is_allowed() -> None:
    assert referral_route_problem(_assistance(), AGENCIES["enforcement"], AMR_SHANGHAI) is None


def test_assistance_inside_one_province_is_refused() -> None:
    problem = referral_route_problem(_assistance(), AMR_SHANGHAI, AMR_PUDONG)
    assert problem is not None
    assert "same province" in problem


@pytest.mark.parametrize("column", [c for c in COLUMNS if c != "enforcement"])
def test_assistance_from_or_to_anyone_but_a_regulator_is_refused(column: str) -> None:
    other = AGENCIES[column]
    for sender, recipient in ((other, AMR_SHANGHAI), (AMR_SHANGHAI, other)):
        problem = referral_route_problem(_assistance(), sender, recipient)
        assert problem is not None
        assert "from a regulator to a regulator" in problem


def test_other_kinds_are_not_routed_by_this_rule() -> None:
    issued = _assistance(ReferralKind.CUSTOMS_TO_ENFORCEMENT)
    assert referral_route_problem(issued, AMR_SHANGHAI, AMR_PUDONG) is None
