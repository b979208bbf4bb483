"""Where the CPU goes: seconds each process of the run, and the whole machine, spent in a
phase, from ``/proc`` (Linux). Divided by the events the phase carried, it is the budget
that says what the cores allow: at ``c`` cores and ``t`` ms of CPU per event across every
process, no run can carry more than ``1000 * c / t`` events per second."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["CpuMeter", "CpuUse"]

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds per named process (and ``postgres``: every server process of a local
    PostgreSQL), and the machine's busy and total seconds (every core) over the phase."""

    seconds: dict[str, float] = field(default_factory=dict)
    machine_busy_s: float = 0.0
    machine_total_s: float = 0.0

    def ms_per_event(self, events: int) -> dict[str, float]:
        return {name: 1000 * s / events for name, s in self.seconds.items()} if events else {}

    @property
    def machine_busy(self) -> float:
        """The share of every core's time that was busy, 0–1."""
        return self.machine_busy_s / self.machine_total_s if self.machine_total_s else 0.0

    def ceiling_eps(self, events: int, cores: int) -> float:
        """Events per second the cores could carry at this CPU cost per event."""
        total_ms = sum(self.ms_per_event(events).values())
        return 1000 * cores / total_ms if total_ms else 0.0


class CpuMeter:
    """``with CpuMeter({"coordinator": pid, ...}) as meter: ...`` then ``meter.use``;
    ``postgres=True`` counts a PostgreSQL server on this machine as one more process."""

    def __init__(self, pids: Mapping[str, int | list[int]], *, postgres: bool = False) -> None:
        self._pids = {name: [p] if isinstance(p, int) else list(p) for name, p in pids.items()}
        self._postgres = postgres
        self._start: tuple[dict[str, float], int, int] = ({}, 0, 0)
        self.use = CpuUse()

    def __enter__(self) -> Self:
        self._start = self._read()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        before, busy0, total0 = self._start
        after, busy1, total1 = self._read()
        self.use = CpuUse(
            seconds={name: after[name] - before.get(name, 0.0) for name in after},
            machine_busy_s=(busy1 - busy0) * _TICK_S,  # ticks: busy never exceeds total
            machine_total_s=(total1 - total0) * _TICK_S,
        )

    def _read(self) -> tuple[dict[str, float], int, int]:
        seconds = {name: sum(map(_process_s, pids)) for name, pids in self._pids.items()}
        if self._postgres:
            seconds["postgres"] = sum(map(_process_s, _postgres_pids()))
        busy, total = _machine_ticks()
        return seconds, busy, total


def _process_s(pid: int) -> float:
    """User and system time of every thread of ``pid`` (0 once it has gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime


def _postgres_pids() -> list[int]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _machine_ticks() -> tuple[int, int]:
    """Busy and total clock ticks of every core since boot (``/proc/stat``'s first line)."""
    try:
        ticks = [int(t) for t in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = ticks[3] + ticks[4]  # idle, iowait
    total = sum(ticks[:8])  # guest time is already in user
    return total - idle, total
