"""The bench's CPU budget: per process from /proc, and what the cores allow at that cost."""

import os
import time
from pathlib import Path

import pytest

from bench.cpu import CpuMeter, CpuUse

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def test_the_cpu_of_a_busy_process_is_counted_and_a_gone_one_is_zero() -> None:
    gone = 2**22 + 17  # above Linux's pid_max default: nobody
    with CpuMeter({"me": os.getpid(), "gone": gone}) as meter:
        until = time.process_time() + 0.2
        while time.process_time() < until:
            pass
    assert meter.use.seconds["me"] >= 0.1, meter.use
    assert meter.use.seconds["gone"] == 0.0
    assert meter.use.machine_total_s > 0
    assert 0 < meter.use.machine_busy <= 1
    assert "postgres" not in meter.use.seconds  # only when asked


def test_what_the_cores_allow_is_cores_over_the_cpu_per_event() -> None:
    use = CpuUse(seconds={"agencies": 1.0, "coordinator": 2.0, "nats-server": 0.5})
    assert use.ms_per_event(1000) == {"agencies": 1.0, "coordinator": 2.0, "nats-server": 0.5}
    assert use.ceiling_eps(1000, cores=2) == pytest.approx(2000 / 3.5)
    assert use.ms_per_event(0) == {}
    assert use.ceiling_eps(0, cores=2) == 0.0


def test_several_processes_under_one_name_are_summed() -> None:
    me = os.getpid()
    with CpuMeter({"twice": [me, me], "once": me}) as meter:
        until = time.process_time() + 0.1
        while time.process_time() < until:
            pass
    assert meter.use.seconds["twice"] == pytest.approx(2 * meter.use.seconds["once"], abs=0.03)
