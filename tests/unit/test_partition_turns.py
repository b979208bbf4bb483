"""The order rule of a partition's consumer, and how replicas take turns on partitions."""

from types import SimpleNamespace
from typing import Any

import pytest

from services.runtime.bus.consumer import AckFloor, Position, in_turn
from services.runtime.bus.turns import ConsumerSeen, PartitionTurn, nobody_reads
from services.runtime.ops.logging import get_logger


def _at(message: tuple[int, int]) -> Position:
    return Position(*message)


# -- in_turn: (stream sequence, delivery sequence) of the messages in hand ----------------


def test_everything_out_is_in_hand_so_all_of_it_goes() -> None:
    assert in_turn([(5, 3), (7, 4)], AckFloor(4, 2, 2), _at) == ([(5, 3), (7, 4)], [])


def test_the_first_after_the_floor_by_delivery_goes_with_the_run_delivered_after_it() -> None:
    # partition gaps: stream 9 is not 8 + 1, but nothing delivered before it is unacknowledged
    ready, waiting = in_turn([(9, 5), (13, 6), (20, 8)], AckFloor(7, 4, 5), _at)
    assert ready == [(9, 5), (13, 6)]
    assert waiting == [(20, 8)]  # delivery 7 is out with another process


def test_a_message_whose_predecessor_is_out_elsewhere_waits() -> None:
    assert in_turn([(11, 6)], AckFloor(7, 4, 2), _at) == ([], [(11, 6)])


def test_a_redelivered_first_message_goes_alone_by_stream_sequence() -> None:
    # 9 came back with delivery 7; acks moved the floor over the gap up to 8
    assert in_turn([(9, 7), (13, 9)], AckFloor(8, 4, 3), _at) == ([(9, 7)], [(13, 9)])


def test_nothing_in_hand_is_nothing_to_do() -> None:
    assert in_turn([], AckFloor(0, 0, 0), _at) == ([], [])


# -- who reads a partition -------------------------------------------------------------------


def test_a_consumer_with_work_and_no_progress_is_read_by_nobody_since_it_stopped() -> None:
    stuck = ConsumerSeen(backlog=5, progress=(9, 4))
    assert nobody_reads(stuck, None, None, 100.0) is None  # a first look proves nothing
    assert nobody_reads(stuck, stuck, None, 101.0) == 101.0
    assert nobody_reads(stuck, stuck, 101.0, 130.0) == 101.0
    moved = ConsumerSeen(backlog=5, progress=(10, 4))
    assert nobody_reads(moved, stuck, 101.0, 131.0) is None
    idle = ConsumerSeen(backlog=0, progress=(10, 10))
    assert nobody_reads(idle, idle, 101.0, 131.0) is None


class _Consumers:
    """A JetStream context whose one consumer reports what the test sets."""

    def __init__(self) -> None:
        self.backlog = 0
        self.progress = (0, 0)
        self.looks = 0

    async def consumer_info(self, stream: str, durable: str) -> Any:
        self.looks += 1
        return SimpleNamespace(
            num_pending=self.backlog,
            num_ack_pending=0,
            delivered=SimpleNamespace(consumer_seq=self.progress[0]),
            ack_floor=SimpleNamespace(consumer_seq=self.progress[1]),
        )


def _turn(
    consumers: _Consumers, *, preferred: bool, starts_reading: bool, coin: float = 0.0
) -> PartitionTurn:
    return PartitionTurn(
        lambda: consumers,  # type: ignore[arg-type,return-value]
        stream="IPBUS",
        durable="coordinator-p1",
        preferred=preferred,
        starts_reading=starts_reading,
        log=get_logger("test", "coordinator"),
        takeover_s=0.0,
        look_every_s=0.0,
        coin=lambda: coin,
    )


async def test_a_preferred_partition_is_read_whatever_the_contention() -> None:
    turn = _turn(_Consumers(), preferred=True, starts_reading=True)
    assert await turn.may_read(contended=3)


@pytest.mark.parametrize(("coin", "reads"), [(0.2, False), (0.8, True)])
async def test_a_replica_meeting_another_steps_back_on_the_coin(coin: float, reads: bool) -> None:
    turn = _turn(_Consumers(), preferred=False, starts_reading=True, coin=coin)
    assert await turn.may_read(contended=0)  # nobody else met: it reads
    assert await turn.may_read(contended=1) is reads


async def test_a_standing_by_replica_takes_over_only_what_nobody_reads() -> None:
    consumers = _Consumers()
    turn = _turn(consumers, preferred=False, starts_reading=False)
    consumers.backlog, consumers.progress = 10, (5, 3)
    assert not await turn.may_read(0)  # first look: no history yet
    consumers.progress = (6, 4)  # someone delivers and acknowledges: it is read
    assert not await turn.may_read(0)
    consumers.backlog = 0  # nothing to read: nothing to take over, however quiet
    assert not await turn.may_read(0)
    consumers.backlog = 7
    assert await turn.may_read(0)  # work, and no progress since (takeover_s 0): taken over
    assert consumers.looks == 4
    assert await turn.may_read(0)
    assert consumers.looks == 4  # reading: it no longer looks


async def test_a_standing_by_replica_waits_out_the_takeover_time() -> None:
    consumers = _Consumers()
    turn = _turn(consumers, preferred=False, starts_reading=False)
    turn._takeover_s = 3600.0
    consumers.backlog, consumers.progress = 10, (5, 3)
    for _ in range(5):  # quiet, but not for long enough
        assert not await turn.may_read(0)
