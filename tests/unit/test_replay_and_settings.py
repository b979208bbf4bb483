"""Replay headers of a dead letter, and the cluster URL list, without a server."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from contracts.agencies import Registry
from contracts.envelope import encode_envelope
from contracts.identifiers import new_ulid
from contracts.referrals import ReferralAcknowledged
from services.runtime.bus import (
    DLQ_REASON_HEADER,
    DeadLetter,
    LetterRefused,
    check_letter,
    replay,
    replay_of,
)
from services.runtime.identity import (
    AgencyKey,
    Settings,
    generate_seed,
    load_registry,
    server_list,
    sign_envelope,
)
from tests.conftest import REGISTRY
from tests.unit.builders import AMR, CUSTOMS, envelope_for

KEYS = {a.id: AgencyKey(generate_seed()) for a in load_registry(REGISTRY).agencies}
RECEIPT_ID = new_ulid()
"""The receipt names no case and no correlation: its own id is its subject's key."""
PUBLISHED = f"ipbus.v1.{AMR}.{CUSTOMS}.{RECEIPT_ID}.referral.acknowledged"
"""As its sender published it (what an outbox relay sets aside)."""
ORIGINAL = f"ipbus.v1.{AMR}.{CUSTOMS}.2.{RECEIPT_ID}.referral.acknowledged"
"""As a consumer read it from the stream: filed under a partition."""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(REGISTRY).with_public_keys({k: v.public_key for k, v in KEYS.items()})


@dataclass
class Ack:
    seq: int


@dataclass
class RecordingJetStream:
    published: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    async def publish(
        self, subject: str, payload: bytes, stream: str | None = None, headers: Any = None
    ) -> Ack:
        self.published.append((subject, payload, dict(headers or {})))
        return Ack(seq=42)

    async def delete_msg(self, stream: str, seq: int) -> None:
        self.deleted.append(seq)


def _receipt(signer: str = AMR) -> bytes:
    envelope = envelope_for(
        ReferralAcknowledged(referral_id=new_ulid(), receipt="R-1"), sender=AMR, event_id=RECEIPT_ID
    )
    return encode_envelope(sign_envelope(envelope, KEYS[signer]))


def _letter(
    consumer: str,
    reason: str = "illegal_step",
    *,
    original: str = ORIGINAL,
    body: bytes | None = None,
    stored: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        seq=7,
        reason=reason,
        detail="referral not known",
        consumer=consumer,
        original_subject=original,
        original_seq=3,
        time=None,
        body=_receipt() if body is None else body,
        headers={
            "Content-Type": "application/cloudevents+json",
            "Nats-Msg-Id": "coordinator:3",
            DLQ_REASON_HEADER: "illegal_step",
            "Ipbus-Replay-Of": "2",
        },
        stored_subject=stored or f"ipbus.dlq.{consumer}.{reason}",
    )


async def test_a_replay_is_for_the_consumer_that_refused_it_under_an_id_of_its_own(
    registry: Registry,
) -> None:
    js = RecordingJetStream()
    letter = _letter("coordinator")
    assert await replay(js, letter, registry) == 42  # type: ignore[arg-type]
    ((subject, body, headers),) = js.published
    assert subject == f"ipbus.v1.operator.{CUSTOMS}.{RECEIPT_ID}.referral.acknowledged"
    assert body == letter.body
    assert headers == {
        "Content-Type": "application/cloudevents+json",
        "Nats-Msg-Id": "ipbus-replay-coordinator-7",
        "Ipbus-Replay-For": "coordinator",
        "Ipbus-Replay-Of": "7",
        "Ipbus-Replay-Subject": ORIGINAL,
    }
    assert js.deleted == [7]
    replayed = replay_of(subject, headers)
    assert replayed is not None
    assert replayed.original_subject == ORIGINAL
    assert replayed.takes("coordinator")
    assert not replayed.takes(f"agency-{CUSTOMS}")


async def test_a_letter_the_outbox_set_aside_is_replayed_to_every_consumer_and_kept(
    registry: Registry,
) -> None:
    js = RecordingJetStream()
    # set aside by the regulator's relay: it never reached any consumer
    letter = _letter(f"agency-{AMR}", reason="unpublishable", original=PUBLISHED)
    await replay(js, letter, registry, keep=True)  # type: ignore[arg-type]
    ((subject, _, headers),) = js.published
    assert subject == f"ipbus.v1.operator.{CUSTOMS}.{RECEIPT_ID}.referral.acknowledged"
    assert headers["Ipbus-Replay-Subject"] == PUBLISHED
    assert "Ipbus-Replay-For" not in headers
    assert js.deleted == []
    replayed = replay_of(subject, headers)
    assert replayed is not None
    assert replayed.takes(f"agency-{CUSTOMS}")


def test_replay_headers_on_ordinary_traffic_make_no_replay() -> None:
    headers = {"Ipbus-Replay-For": "coordinator", "Ipbus-Replay-Subject": ORIGINAL}
    assert replay_of(ORIGINAL, headers) is None
    assert replay_of(PUBLISHED, headers) is None
    assert (
        replay_of(f"ipbus.v1.{CUSTOMS}.operator.{RECEIPT_ID}.referral.acknowledged", headers)
        is None
    )


@pytest.mark.parametrize(
    ("letter", "why"),
    [
        (_letter("coordinator", stored=f"ipbus.dlq.agency-{CUSTOMS}.illegal_step"), "written to"),
        (_letter(f"agency-{CUSTOMS}", reason="Not A Reason"), "not one lower-case word"),
        (_letter(f"agency-{AMR}"), "does not read"),
        (_letter(f"agency-{CUSTOMS}", reason="unpublishable"), "does not read"),
        (_letter("coordinator", original="ipbus.v1.x"), "original subject"),
        (_letter("coordinator", body=b"{not json"), "not a valid event"),
        (_letter("coordinator", body=_receipt(signer=CUSTOMS)), "signature"),
        (
            _letter(
                "coordinator",
                original=f"ipbus.v1.{CUSTOMS}.{AMR}.2.{RECEIPT_ID}.referral.acknowledged",
            ),
            "not a valid event",
        ),
        (
            _letter("coordinator", original=f"ipbus.v1.{AMR}.{CUSTOMS}.referral.acknowledged"),
            "original subject",
        ),
        (
            _letter(
                "coordinator",
                original=f"ipbus.v1.{AMR}.{CUSTOMS}.2.{new_ulid()}.referral.acknowledged",
            ),
            "not a valid event",
        ),
    ],
    ids=[
        "consumer-not-its-subject",
        "reason-not-a-token",
        "subject-it-does-not-read",
        "outbox-of-another-sender",
        "bad-original-subject",
        "body-not-json",
        "signed-by-another",
        "sender-not-the-subjects",
        "unkeyed-original-subject",
        "original-keyed-by-another-event",
    ],
)
async def test_a_letter_the_bus_could_not_have_written_is_not_replayed(
    registry: Registry, letter: DeadLetter, why: str
) -> None:
    with pytest.raises(LetterRefused, match=why):
        check_letter(letter, registry)
    js = RecordingJetStream()
    with pytest.raises(LetterRefused):
        await replay(js, letter, registry)  # type: ignore[arg-type]
    assert js.published == []
    assert js.deleted == []


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("nats://127.0.0.1:4222", ["nats://127.0.0.1:4222"]),
        (
            "nats://a:4222, nats://b:4222,nats://c:4222,",
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"],
        ),
    ],
)
def test_the_nats_url_may_list_the_nodes_of_a_cluster(url: str, servers: list[str]) -> None:
    assert server_list(url) == servers


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """``IPBUS_NATS_URL= ipbus up``: embed the server, as if it were not set at all."""
    monkeypatch.setenv("IPBUS_NATS_URL", "")
    monkeypatch.setenv("IPBUS_OPERATOR_CREDS", "")
    settings = Settings()
    assert settings.nats_url is None
    assert settings.operator_creds is None


@pytest.mark.parametrize(
    ("partitions", "setting", "preferred"),
    [
        (4, "", None),
        (4, "0,2", {0, 2}),
        (4, " 3 ", {3}),
        (4, "0/2", {0, 2}),
        (4, "1/2", {1, 3}),
        (5, "1/2", {1, 3}),
        (4, "2/3", {2}),
        (2, "2/3", set()),  # a third replica of two partitions stands by on both
    ],
)
def test_a_coordinator_replica_prefers_its_partitions_by_list_or_by_index(
    partitions: int, setting: str, preferred: set[int] | None
) -> None:
    settings = Settings(partitions=partitions, coordinator_partitions=setting)
    assert settings.preferred_partitions == (None if preferred is None else frozenset(preferred))


def test_the_replicas_of_a_stateful_set_share_every_partition_out_once() -> None:
    """Each pod of the StatefulSet gets "<its index>/<replicas>" (deploy/k8s/ipbus.yaml)."""
    for replicas in (1, 2, 3, 5):
        shares = [
            Settings(partitions=16, coordinator_partitions=f"{i}/{replicas}").preferred_partitions
            or frozenset()
            for i in range(replicas)
        ]
        assert sorted(p for share in shares for p in share) == list(range(16))


@pytest.mark.parametrize("setting", ["2/2", "5/3", "0/0", "1,4", "0,9", "a", "1/", "/2", "1/2/3"])
def test_a_replica_told_to_prefer_partitions_that_do_not_exist_does_not_start(
    setting: str,
) -> None:
    with pytest.raises(ValueError, match="coordinator_partitions"):
        Settings(partitions=4, coordinator_partitions=setting)
