"""What the CPUs did during a measurement, read from /proc (Linux): busy share and CPU seconds.

A throughput or latency figure on a shared two-CPU machine says little without it: whether the
run was limited by the CPUs (all busy) or by waiting (Slack's round trips, the database's
commits), and how much CPU one command or page took beside the baseline's.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left, bisect_right

_TICK = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[int, int]:
    """(busy, total) jiffies over every CPU since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


class MachineCpu:
    """Samples the whole machine's CPU use every `every` seconds while it runs (a context
    manager); `busy(start, end)` is the share of all CPUs busy over that `perf_counter` span."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def __enter__(self) -> MachineCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append((time.perf_counter(), *_machine()))
            if self._stop.wait(self.every):
                self.samples.append((time.perf_counter(), *_machine()))
                return

    def busy(self, start: float, end: float) -> float:
        """The share (0–1) of all CPUs busy between the samples just inside [start, end]."""
        times = [s[0] for s in self.samples]
        first = min(bisect_left(times, start), len(times) - 1)
        last = max(bisect_right(times, end) - 1, first)
        if last == first:
            return float("nan")
        _, busy0, total0 = self.samples[first]
        _, busy1, total1 = self.samples[last]
        return (busy1 - busy0) / max(total1 - total0, 1)


def process_tree_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its live children."""
    seconds = 0.0
    for entry in os.listdir("/proc"):
        fields = _stat(int(entry)) if entry.isdigit() else None
        # fields[1] is the parent's pid; utime and stime are counted in clock ticks.
        if fields is not None and pid in (int(entry), int(fields[1])):
            seconds += (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
