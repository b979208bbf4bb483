"""When a mediation agreement may be sent to a court for judicial confirmation."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contracts.agencies import Agency, AgencyKind, JudicialRole
from services.mediation.domain import (
    LEGAL_BASIS,
    AgreementNotConfirmable,
    MediationAgreement,
    confirmation_request,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
COURT = Agency(
    id="court-x", kind=AgencyKind.JUDICIAL, role=JudicialRole.COURT, region="310000", name="C"
)
PROCURATORATE = Agency(
    id="proc-x", kind=AgencyKind.JUDICIAL, role=JudicialRole.PROCURATORATE, region="310000",
    name="P",
)  # fmt: skip
REGULATOR = Agency(id="amr-x", kind=AgencyKind.ENFORCEMENT, region="310000", name="R")
AGREEMENT = MediationAgreement(
    case_id="01J00000000000000000000000",
    local_ref="M-1",
    title="licence dispute",
    parties=("A Co.", "B Co."),
    signed_by=("B Co.", "A Co."),
    effective_at=NOW - timedelta(days=10),
    terms="fee paid",
)

A = AGREEMENT
DAY = timedelta(days=1)

REFUSED = [
    ("sent to a procuratorate", A, PROCURATORATE, "not a court"),
    ("sent to a regulator", A, REGULATOR, "not a court"),
    ("one party only", replace(A, parties=("A Co.",), signed_by=("A Co.",)), COURT, "two parties"),
    ("a party has not signed", replace(A, signed_by=("A Co.",)), COURT, "by every party: B Co."),
    ("not in effect yet", replace(A, effective_at=NOW + DAY), COURT, "not taken effect"),
    ("31 days after", replace(A, effective_at=NOW - 31 * DAY), COURT, "more than 30 days"),
]


@pytest.mark.parametrize(
    ("case", "agreement", "court", "why"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_an_agreement_that_cannot_be_confirmed_is_refused_with_the_reason(
    case: str, agreement: MediationAgreement, court: Agency, why: str
) -> None:
    with pytest.raises(AgreementNotConfirmable, match=why):
        confirmation_request(agreement, court, now=NOW)


@pytest.mark.parametrize(
    "effective_at",
    [NOW, NOW - timedelta(days=30)],
    ids=["the day it takes effect", "the last day of the window"],
)
def test_a_signed_agreement_within_the_window_goes_to_the_court(effective_at: datetime) -> None:
    request = confirmation_request(replace(AGREEMENT, effective_at=effective_at), COURT, now=NOW)
    assert request.legal_basis == LEGAL_BASIS
    assert "licence dispute" in request.summary
    assert "A Co., B Co." in request.summary
