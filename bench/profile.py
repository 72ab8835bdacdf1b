"""Sampling profiles of the worker with py-spy (``--profile``), summarized by package and frame.

py-spy is a dev tool, not a dependency: ``pip install py-spy``. It samples the running
worker from outside (``--nonblocking``: the worker is never paused), so the profiled run
is a separate burst, not one of the measured ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Profile", "PySpy", "parse_collapsed", "py_spy_binary", "summarize"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")

#: (package label, first component of the module path py-spy shows); first match wins.
_PACKAGES: dict[str, str] = {
    "streams": "herald: streams",
    "providers": "herald: providers",
    "schemas": "herald: schemas",
    "seeds": "herald: seeds",
    "aiokafka": "aiokafka",
    "kafka": "aiokafka",
    "faust": "faust",
    "mode": "mode (faust)",
    "redis": "redis-py",
    "httpx": "httpx",
    "httpcore": "httpcore",
    "h11": "h11",
    "h2": "h2",
    "anyio": "anyio",
    "sniffio": "anyio",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "logging": "logging",
    "asyncio": "asyncio",
    "aiohttp": "aiohttp",
    "yarl": "aiohttp",
    "multidict": "aiohttp",
    "opentelemetry": "opentelemetry",
}


def py_spy_binary() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def parse_collapsed(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """``frame;frame;... count`` lines (py-spy ``--format raw``) as (frames, samples)."""
    stacks = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _first(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    return path.split("/", 1)[0]


def _package(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    first = path.split("/", 1)[0]
    if first.endswith(".py") and "/" not in path:
        return "stdlib: " + first[:-3]
    return _PACKAGES.get(first, first or "native/unknown")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame or "(native/unknown)"
    return f"{match.group('func')} ({match.group('file')})"


#: Areas whose inclusive share is reported: a sample counts if any frame is in the area.
_AREAS: dict[str, tuple[str, ...]] = {
    "Redis client (redis-py)": ("redis",),
    "provider HTTP call (httpx, aiohttp, httpcore)": (
        "httpx",
        "httpcore",
        "h11",
        "anyio",
        "aiohttp",
        "yarl",
        "multidict",
        "httpx_aiohttp",
    ),
    "Kafka client (aiokafka)": ("aiokafka", "kafka"),
    "pydantic (models, JSON)": ("pydantic", "pydantic_core"),
    "logging": ("logging",),
}


@dataclass
class Profile:
    samples: int
    by_area: list[tuple[str, float]]
    self_by_package: list[tuple[str, float]]
    self_by_frame: list[tuple[str, float]]
    inclusive_by_frame: list[tuple[str, float]]

    def text(self, top: int = 25) -> str:
        def block(title: str, rows: list[tuple[str, float]]) -> list[str]:
            return [title, *(f"  {share:5.1f}%  {name}" for name, share in rows[:top]), ""]

        return "\n".join(
            [
                f"{self.samples} samples",
                "",
                *block("inclusive time by area:", self.by_area),
                *block("self time by package:", self.self_by_package),
                *block("self time by function:", self.self_by_frame),
                *block("inclusive time by function (herald code only):", self.inclusive_by_frame),
            ]
        )


def summarize(stacks: list[tuple[list[str], int]]) -> Profile:
    """Shares of samples: self time by package and by function, inclusive by Herald function."""
    total = sum(count for _, count in stacks) or 1
    areas: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    by_frame: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        leaf = frames[-1]
        by_package[_package(leaf)] += count
        by_frame[_short(leaf)] += count
        firsts = {_first(frame) for frame in frames}
        for area, packages in _AREAS.items():
            if firsts.intersection(packages):
                areas[area] += count
        for frame in set(frames):
            if _package(frame).startswith("herald"):
                inclusive[_short(frame)] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100.0 * n / total) for name, n in counter.most_common()]

    return Profile(total, shares(areas), shares(by_package), shares(by_frame), shares(inclusive))


class PySpy:
    """``py-spy record`` on a pid while a block runs; :attr:`profile` afterwards."""

    def __init__(self, pid: int, out: Path, rate: int = 250) -> None:
        self.pid = pid
        self.out = out
        self.rate = rate
        self.profile: Profile | None = None
        self.error: str | None = None
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> PySpy:
        binary = py_spy_binary()
        if binary is None:
            self.error = "py-spy is not installed (pip install py-spy)"
            return self
        self._proc = await asyncio.create_subprocess_exec(
            binary,
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(self.out),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(1.0)  # py-spy attaches
        if self._proc.returncode is not None:
            assert self._proc.stderr is not None
            self.error = (await self._proc.stderr.read()).decode(errors="replace")[-500:]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        self._proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            _, stderr = await asyncio.wait_for(self._proc.communicate(), 30)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
            self.error = "py-spy did not stop"
            return
        if not self.out.exists():
            self.error = stderr.decode(errors="replace")[-500:] or "py-spy wrote no output"
            return
        self.profile = summarize(parse_collapsed(self.out.read_text().splitlines()))
