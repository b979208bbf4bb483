"""The audit hash chain, pure: any altered, removed or reordered row is found, and where."""

from dataclasses import replace

import pytest

from services.coordinator.audit.anchors import anchor_signed_by, sign_anchor
from services.coordinator.audit.chain import (
    GENESIS,
    AuditAnchor,
    AuditEntry,
    AuditVerdict,
    ChainBreak,
    anchor_mismatch,
    chain_next,
    entry_hash,
    first_break,
    head,
)
from services.runtime.identity import AgencyKey, generate_seed


def _raw(n: int, verdict: AuditVerdict = AuditVerdict.ACCEPTED) -> AuditEntry:
    return AuditEntry(
        seq=0,
        ref=f"event:{n}",
        recorded_at=f"2026-11-25T10:00:{n:02d}+00:00",
        verdict=verdict,
        subject="ipbus.v1.customs-shanghai.coordinator.case.opened",
        event_id=f"E{n}",
        digest=f"{n:064x}",
        reason=None if verdict is AuditVerdict.ACCEPTED else "bad_signature",
    )


def chain(length: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for n in range(1, length + 1):
        verdict = AuditVerdict.REJECTED if n % 3 == 0 else AuditVerdict.ACCEPTED
        entries.append(chain_next(entries[-1] if entries else None, _raw(n, verdict)))
    return entries


def test_a_fresh_chain_links_and_verifies() -> None:
    entries = chain(6)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS
    assert all(e.hash == entry_hash(e) for e in entries)
    assert first_break(entries) is None
    assert first_break([]) is None
    assert head(entries) == (6, entries[-1].hash)


def _altered(entries: list[AuditEntry], at: int, **changes: object) -> list[AuditEntry]:
    out = list(entries)
    out[at] = replace(out[at], **changes)  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(
    ("tamper", "position", "why"),
    [
        (lambda es: _altered(es, 2, reason="replayed"), 3, "content"),
        (lambda es: _altered(es, 0, sender="court-shanghai-ip"), 1, "content"),
        (lambda es: _altered(es, 2, verdict=AuditVerdict.ACCEPTED, reason=None), 3, "content"),
        # re-hashing an altered row does not help: the next row's link breaks
        (
            lambda es: _altered(es, 1, hash=entry_hash(replace(es[1], subject="x"))),
            2,
            "content",
        ),
        (lambda es: es[:1] + es[2:], 2, "seq"),
        (lambda es: es[1:], 1, "seq"),
        (lambda es: [es[0], es[2], es[1], *es[3:]], 2, "seq"),
        # renumbered after a swap: the links give it away
        (
            lambda es: [es[0], replace(es[2], seq=2), replace(es[1], seq=3), *es[3:]],
            2,
            "prev_hash",
        ),
        # removed and renumbered: the links give it away
        (lambda es: [es[0], *(replace(e, seq=e.seq - 1) for e in es[2:])], 2, "prev_hash"),
    ],
    ids=[
        "altered-reason",
        "altered-first",
        "flipped-verdict",
        "rehashed",
        "removed",
        "removed-first",
        "reordered",
        "reordered-renumbered",
        "removed-renumbered",
    ],
)
def test_tampering_is_found_at_the_first_broken_row(
    tamper: object, position: int, why: str
) -> None:
    entries = chain(6)
    broken = first_break(tamper(entries))  # type: ignore[operator]
    assert isinstance(broken, ChainBreak)
    assert broken.position == position
    assert why in broken.reason
    assert str(broken).startswith(f"row {position} ")


def test_every_field_is_covered_by_the_hash() -> None:
    entry = chain(1)[0]
    changes: list[AuditEntry] = [
        replace(entry, seq=entry.seq + 1),
        replace(entry, ref=entry.ref + "!"),
        replace(entry, recorded_at=entry.recorded_at + "!"),
        replace(entry, subject=entry.subject + "!"),
        replace(entry, event_id="other"),
        replace(entry, digest=entry.digest + "!"),
        replace(entry, prev_hash=entry.prev_hash + "!"),
        replace(entry, verdict=AuditVerdict.REJECTED),
        replace(entry, detail="note"),
    ]
    assert len({entry_hash(c) for c in changes} | {entry.hash}) == len(changes) + 1


def _anchor(entries: list[AuditEntry]) -> AuditAnchor:
    rows, last = head(entries)
    return AuditAnchor(agency="coordinator", rows=rows, head=last, time="2026-11-25T11:00:00+00:00")


def test_an_anchored_chain_matches_and_newer_rows_are_not_judged() -> None:
    entries = chain(6)
    anchor = _anchor(entries[:4])
    assert anchor_mismatch(entries[:4], anchor) is None
    assert anchor_mismatch(entries, anchor) is None


def test_a_cut_tail_is_named_against_the_anchor() -> None:
    entries = chain(6)
    anchor = _anchor(entries)
    assert first_break(entries[:4]) is None  # the shorter chain still links
    assert anchor_mismatch(entries[:4], anchor) == (
        "rows 5..6 missing: the chain ends at 4 but the anchor of 2026-11-25T11:00:00+00:00 says 6"
    )


def test_a_consistent_rewrite_is_named_against_the_anchor() -> None:
    entries = chain(6)
    anchor = _anchor(entries)
    forged: list[AuditEntry] = []
    for entry in entries:  # change row 2, then recompute every hash after it
        raw = replace(entry, sender="court-shanghai-ip") if entry.seq == 2 else entry
        forged.append(chain_next(forged[-1] if forged else None, raw))
    assert first_break(forged) is None
    assert anchor_mismatch(forged, anchor) == (
        "head hash at row 6 differs from the anchor of 2026-11-25T11:00:00+00:00"
    )


def test_an_anchor_of_an_empty_chain_holds_the_genesis_hash() -> None:
    anchor = _anchor([])
    assert (anchor.rows, anchor.head) == (0, GENESIS)
    assert anchor_mismatch([], anchor) is None
    assert anchor_mismatch(chain(2), anchor) is None


def test_an_anchor_round_trips_and_its_signature_covers_every_field() -> None:
    key = AgencyKey(generate_seed())
    anchor = sign_anchor(key, agency="coordinator", rows=3, head="ab" * 32, time="t")
    again = AuditAnchor.from_json(anchor.to_json())
    assert again == anchor
    assert anchor_signed_by(again, [key.public_key])
    assert not anchor_signed_by(replace(again, rows=2), [key.public_key])
    assert not anchor_signed_by(again, [AgencyKey(generate_seed()).public_key])
