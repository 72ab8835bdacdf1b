"""(d) placeholder while the bridge is being built."""

from __future__ import annotations

from pathlib import Path

from bench.report import SessionResult


async def run(
    workdir: Path, counts: list[int], *, quick: bool
) -> tuple[list[SessionResult], list[str]]:
    return [], ["(d) not implemented yet"]


def versions() -> dict[str, str | None]:
    return {}
