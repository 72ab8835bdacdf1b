"""(b) and (c): Herald end to end, a real ``herald worker`` process.

requests -> router worker -> the WhatsApp Business sandbox (its own process, over
loopback HTTP) -> ``accepted`` and ``sent`` status events. (b): the sandbox answers at
once; (c): every Graph API call takes 50 ms (a delay fault for every recipient, then a
normal answer). One worker serves every scenario; its CPU seconds are counted per
scenario and its peak RSS is reset before each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import Load, measure
from bench.profile import PySpy
from bench.report import Result, say
from bench.stack import Process, Stack
from schemas import Settings

__all__ = ["Scenario", "run"]


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    load: Load
    provider_delay: float | None = None  # seconds per Graph API call
    check_order: bool = False


async def _fresh_worker(stack: Stack) -> tuple[Settings, Process]:
    settings = stack.settings("herald")
    worker = await stack.start_worker(settings)
    worker.name = "worker"
    return settings, worker


async def run(
    stack: Stack,
    scenarios: Sequence[Scenario],
    *,
    profile: Load | None = None,
    profile_dir: Path | None = None,
) -> tuple[list[Result], list[str]]:
    """Measure ``scenarios`` through one worker; optionally profile a zero-latency burst."""
    settings, worker = await _fresh_worker(stack)
    results: list[Result] = []
    notes: list[str] = []
    try:
        for scenario in scenarios:
            await stack.sandbox_delay(scenario.provider_delay)
            say(f"({scenario.key}) {scenario.title} ...")
            result = await measure(
                stack,
                key=scenario.key,
                title=scenario.title,
                process=worker,
                requests_topic=settings.topic_requests,
                status_topic=settings.topic_status,
                load=scenario.load,
                check_order=scenario.check_order,
            )
            results.append(result)
            if not result.complete:  # a backlog would spill into the next scenario
                await stack.stop(worker)
                settings, worker = await _fresh_worker(stack)
        if profile is not None and profile_dir is not None:
            await stack.sandbox_delay(None)
            await asyncio.to_thread(profile_dir.mkdir, parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            raw = stack.workdir / f"{stamp}-profile-b.collapsed"  # MBs: not kept in results/
            async with PySpy(worker.pid, raw) as spy:
                profiled = await measure(
                    stack,
                    key="b-profiled",
                    title="(b) under py-spy",
                    process=worker,
                    requests_topic=settings.topic_requests,
                    status_topic=settings.topic_status,
                    load=profile,
                )
            if spy.profile is not None:
                summary = profile_dir / f"{stamp}-profile-b.txt"
                summary.write_text(spy.profile.text(40))
                print(spy.profile.text(15), flush=True)
                notes.append(
                    f"profile of the worker during a (b) burst under py-spy "
                    f"({profiled.throughput:,.0f}/s while sampled): bench/results/{summary.name} "
                    f"(stacks for a flame graph: {raw})"
                )
            else:
                notes.append(f"no profile: {spy.error}")
    finally:
        await stack.stop(worker)
    return results, notes
