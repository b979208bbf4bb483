"""The events both sides carry: the same signed CloudEvents, so the ratio is like for like."""

from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.cases import CaseOpened, CaseStatus, CaseStatusChanged
from contracts.envelope import encode_envelope, new_envelope
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, event_subject
from services.runtime.identity import AgencyKey, sign_envelope

__all__ = ["SENDER", "Workload", "make_workload"]

SENDER = "customs-shanghai"
CASES = 200
"""Events spread over this many cases, as a busy day's status changes would be."""


@dataclass(frozen=True, slots=True)
class Workload:
    subjects: tuple[str, ...]
    """Each body's subject: its case is the subject's key token (DESIGN §3)."""
    bodies: tuple[bytes, ...]
    ids: tuple[str, ...]
    case_ids: tuple[str, ...] = ()
    openings: tuple[bytes, ...] = ()
    """One ``case.opened`` per case, published first: only a party may restate a case (§4a)."""
    opening_ids: tuple[str, ...] = ()
    opening_subjects: tuple[str, ...] = ()

    @property
    def mean_bytes(self) -> float:
        return sum(len(body) for body in self.bodies) / len(self.bodies)


def make_workload(count: int, key: AgencyKey, *, cases: int = CASES, first: int = 0) -> Workload:
    """``count`` signed ``case.status_changed`` events from customs to the coordinator,
    spread over ``cases`` new cases; ``first`` numbers them after an earlier workload."""
    case_ids = [new_ulid() for _ in range(cases)]
    now = datetime.now(UTC)
    bodies, ids, subjects = [], [], []
    for index in range(first, first + count):
        case_id = case_ids[index % cases]
        payload = CaseStatusChanged(
            local_ref=f"SH-CUS-2026-{index % cases:05d}",
            status=CaseStatus.INVESTIGATING,
            note=f"inspection round {index // cases}",
        )
        envelope = sign_envelope(
            new_envelope(sender=SENDER, payload=payload, now=now, case_id=case_id), key
        )
        bodies.append(encode_envelope(envelope))
        ids.append(envelope.id)
        subjects.append(event_subject(SENDER, COORDINATOR, case_id, "case.status_changed"))
    openings = [
        sign_envelope(
            new_envelope(sender=SENDER, payload=_opened(n, now), now=now, case_id=case_id), key
        )
        for n, case_id in enumerate(case_ids)
    ]
    return Workload(
        subjects=tuple(subjects),
        bodies=tuple(bodies),
        ids=tuple(ids),
        case_ids=tuple(case_ids),
        openings=tuple(encode_envelope(e) for e in openings),
        opening_ids=tuple(e.id for e in openings),
        opening_subjects=tuple(
            event_subject(SENDER, COORDINATOR, case_id, "case.opened") for case_id in case_ids
        ),
    )


def _opened(index: int, now: datetime) -> CaseOpened:
    return CaseOpened(
        local_ref=f"SH-CUS-2026-{index:05d}",
        title="bench case",
        ip_rights=[],
        parties=[],
        goods=[],
        opened_at=now,
    )
