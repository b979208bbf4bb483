"""Replay headers of a dead letter, and the cluster URL list, without a server."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from services.runtime.dead_letters import DeadLetter, replay
from services.runtime.settings import server_list


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


def _letter(consumer: str, reason: str = "illegal_step") -> DeadLetter:
    return DeadLetter(
        seq=7,
        reason=reason,
        detail="referral not known",
        consumer=consumer,
        original_subject="ipbus.v1.amr-shanghai.customs-shanghai.referral.acknowledged",
        original_seq=3,
        time=None,
        body=b"{}",
        headers={
            "Content-Type": "application/cloudevents+json",
            "Nats-Msg-Id": "coordinator:3",
            "Ipbus-Dlq-Reason": "illegal_step",
            "Ipbus-Replay-Of": "2",
        },
    )


async def test_a_replay_is_for_the_consumer_that_refused_it_under_an_id_of_its_own() -> None:
    js = RecordingJetStream()
    assert await replay(js, _letter("coordinator")) == 42  # type: ignore[arg-type]
    ((subject, body, headers),) = js.published
    assert subject == "ipbus.v1.amr-shanghai.customs-shanghai.referral.acknowledged"
    assert body == b"{}"
    assert headers == {
        "Content-Type": "application/cloudevents+json",
        "Nats-Msg-Id": "ipbus-replay-coordinator-7",
        "Ipbus-Replay-For": "coordinator",
        "Ipbus-Replay-Of": "7",
    }
    assert js.deleted == [7]


async def test_a_letter_the_outbox_set_aside_is_replayed_to_every_consumer_and_kept() -> None:
    js = RecordingJetStream()
    # set aside by agency-customs-shanghai's relay: it never reached any consumer
    letter = _letter("agency-customs-shanghai", reason="unpublishable")
    await replay(js, letter, keep=True)  # type: ignore[arg-type]
    ((_, _, headers),) = js.published
    assert "Ipbus-Replay-For" not in headers
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
