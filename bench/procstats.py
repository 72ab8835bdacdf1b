"""What a process costs, read from ``/proc`` (Linux): CPU seconds, peak RSS, PSS of a tree.

The bench measures the processes it starts (worker, raw passthrough, sandbox, broker,
Redis, Chromium) from the outside, so that its own load generator does not count.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CpuClock",
    "children",
    "cpu_seconds",
    "cpu_split",
    "memory_detail_kib",
    "memory_kib",
    "peak_rss_kib",
    "reset_peak_rss",
    "start_ticks",
    "tree",
    "tree_memory_detail_kib",
    "tree_memory_kib",
]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid`` (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS  # utime, stime


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): tells a process from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads) so far."""
    return sum(cpu_split(pid))


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_rss_kib(pid: int) -> int:
    """Peak resident set size (``VmHWM``) of ``pid`` since start or :func:`reset_peak_rss`."""
    return _status_kib(pid, "VmHWM")


def reset_peak_rss(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS (``echo 5 > clear_refs``); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in KiB; PSS splits shared pages among the processes sharing them."""
    rss, pss, _ = memory_detail_kib(pid)
    return rss, pss


def memory_detail_kib(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, PSS of anonymous and shmem pages) of ``pid`` in KiB.

    The last leaves out file-backed pages (the Chromium binary, its resources), which
    other processes of the same program share, so it does not depend on what else runs.
    """
    values = {"Rss": 0, "Pss": 0, "Pss_Anon": 0, "Pss_Shmem": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return _status_kib(pid, "VmRSS"), 0, 0
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return values["Rss"], values["Pss"], values["Pss_Anon"] + values["Pss_Shmem"]


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    result, todo = [], [pid]
    while todo:
        current = todo.pop()
        result.append(current)
        todo.extend(children(current))
    return result


def tree_memory_kib(pid: int) -> tuple[int, int]:
    """Summed (RSS, PSS) of ``pid`` and its descendants (RSS double-counts shared pages)."""
    rss, pss, _ = tree_memory_detail_kib(pid)
    return rss, pss


def tree_memory_detail_kib(pid: int) -> tuple[int, int, int]:
    """Summed (RSS, PSS, anonymous+shmem PSS) of ``pid`` and its descendants."""
    rss = pss = anon = 0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            r, p, a = memory_detail_kib(member)
            rss += r
            pss += p
            anon += a
    return rss, pss, anon


@dataclass
class CpuClock:
    """CPU seconds of named processes between :meth:`start` and :meth:`stop`."""

    pids: dict[str, int]

    def __post_init__(self) -> None:
        self._start: dict[str, tuple[float, float]] = {}
        self.used: dict[str, float] = {}
        self.system: dict[str, float] = {}  # the kernel's part of ``used``

    def _read(self) -> dict[str, tuple[float, float]]:
        values: dict[str, tuple[float, float]] = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError):
                values[name] = cpu_split(pid)
        return values

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        common = [name for name in end if name in self._start]
        self.used = {name: round(sum(end[name]) - sum(self._start[name]), 2) for name in common}
        self.system = {name: round(end[name][1] - self._start[name][1], 2) for name in common}
        return self.used
