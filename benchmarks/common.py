"""Timing helpers for the benchmark scripts (medians of repeated, warmed-up measurements)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeats` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(
    a: Callable[[], object], b: Callable[[], object], *, repeats: int = 5, warmup: int = 1
) -> tuple[float, float]:
    """Medians of `a` and `b` measured alternately (a, b, a, b, ...) so drift hits both alike."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def _cpu_jiffies() -> tuple[int, int] | None:
    """(total, steal) jiffies from /proc/stat, or None where it does not exist."""
    try:
        fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), (fields[7] if len(fields) > 7 else 0)


class StealMeter:
    """% of CPU time the hypervisor gave to other guests while the block ran (None if unknown).

    On a shared VM a stolen third of the CPU slows every timing alike; ratios measured
    interleaved stay fair, absolute images/s and minutes do not, so rows carry this figure.
    """

    def __enter__(self) -> StealMeter:
        self.start, self.pct = _cpu_jiffies(), None
        return self

    def __exit__(self, *exc: object) -> None:
        end = _cpu_jiffies()
        if self.start and end and end[0] > self.start[0]:
            self.pct = round(100 * (end[1] - self.start[1]) / (end[0] - self.start[0]), 1)


def run_command(args: list[str]) -> tuple[int, float, float, str]:
    """`python -m chanpos ARGS` in its own process -> (exit code, seconds, peak resident GB of
    the command and its worker processes, its last stderr line): `wait4` gives that one
    child's usage, its waited-for workers included."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "chanpos", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    last = (err.strip().splitlines() or [""])[-1]
    return code, seconds, usage.ru_maxrss / 1e6, last
