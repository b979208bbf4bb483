"""Every question the coordinator answers, fed garbage: each gets a reply naming the
problem, none goes unanswered, and the coordinator answers the next honest question."""

import json

import nats
import pytest

from contracts.evidence import EVIDENCE_CHUNK_QUERY, EVIDENCE_PUT_QUERY
from contracts.queries import CASE_QUERY
from contracts.referral_queries import REFERRALS_QUERY
from contracts.subjects import query_subject
from contracts.warning_queries import WARNINGS_QUERY
from services.coordinator.app import CoordinatorService
from services.sdk import Bus, query_case

ASKER = "customs-shanghai"
GARBAGE = [
    b"",
    b"\xff\xfe\x00",
    b"{",
    b"[]",
    b"null",
    b'{"evidence_id": "not-a-ulid", "index": -1, "case_id": 7}',
    b'{"evidence_id": "01M8QX7SBRVVXS6P8CTK0G3ANA", "case_id": "01M8QX7SBRVVXS6P8CTK0G3ANB",'
    b' "index": 0, "data": "!!! not base64 !!!", "last": true}',
    b'{"evidence_id": "01M8QX7SBRVVXS6P8CTK0G3ANA", "index": 99999999999999999999999}',
    b"[" * 5000 + b"]" * 5000,
    json.dumps({"case_id": "01M8QX7SBRVVXS6P8CTK0G3ANA", "extra": "x" * 100_000}).encode(),
]


@pytest.mark.timeout(120)
async def test_garbage_to_every_query_is_answered_with_the_problem(bus: Bus) -> None:
    coordinator = bus.services["coordinator"]
    assert isinstance(coordinator, CoordinatorService)
    subjects = [
        query_subject(ASKER, name)
        for name in (WARNINGS_QUERY, CASE_QUERY, REFERRALS_QUERY, EVIDENCE_CHUNK_QUERY)
    ] + [
        query_subject(ASKER, EVIDENCE_PUT_QUERY),
        f"{query_subject(ASKER, EVIDENCE_PUT_QUERY)}.{coordinator.replica}",
    ]
    nc = await nats.connect(bus.nats_url)
    try:
        for subject in subjects:
            for body in GARBAGE:
                reply = await nc.request(subject, body, timeout=10)
                answer = json.loads(reply.data)
                assert isinstance(answer, dict), (subject, body[:40], reply.data[:200])
                if body == b"" and subject.endswith((f".{WARNINGS_QUERY}", f".{REFERRALS_QUERY}")):
                    # no body is the default list query, by design
                    assert "warnings" in answer or "deadlines" in answer, answer
                    continue
                assert answer.get("error"), (subject, body[:40], reply.data[:200])
        # and it still answers an honest question
        honest = await query_case(nc, requester=ASKER, case_id="01M8QX7SBRVVXS6P8CTK0G3ANA")
        assert honest.error is not None
        assert "not found" in honest.error
    finally:
        await nc.close()
