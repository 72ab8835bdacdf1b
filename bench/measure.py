"""One measured scenario: warm up, then load, and read what the measured process cost."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.load import (
    BURST_FETCH_MAX_WAIT_MS,
    FETCH_MAX_WAIT_MS,
    RECIPIENTS,
    Collector,
    Outcome,
    make_requests,
    recipient_index,
    run_load,
)
from bench.procstats import CpuClock, peak_rss_kib, reset_peak_rss
from bench.report import Result, percentile
from bench.stack import Process, Stack, tenants

__all__ = ["Load", "diff_commands", "measure", "order_violations", "redis_commands"]


@dataclass(frozen=True)
class Load:
    messages: int
    rate: float | None = None  # None: a burst
    warmup: int = 500
    timeout: float = 180.0


def order_violations(
    requests: Sequence[tuple[bytes, bytes, str]],
    order: dict[str, int],
    recipients: int = RECIPIENTS,
) -> int:
    """Requests whose ``sent`` came before an earlier request's to the same recipient.

    ``order`` maps an id to the position its ``sent`` event was consumed at; requests
    to one recipient are always of one tenant (see :func:`make_requests`), so their
    events share a partition and consumption order is emission order.
    """
    last: dict[int, int] = {}
    violations = 0
    for index, (_, _, nid) in enumerate(requests):
        if nid not in order:
            continue
        recipient = recipient_index(index, recipients)
        position = order[nid]
        if position < last.get(recipient, -1):
            violations += 1
        last[recipient] = max(position, last.get(recipient, -1))
    return violations


async def redis_commands(url: str) -> dict[str, int]:
    """Calls per command so far (``INFO commandstats``), to count commands per request."""
    client = Redis.from_url(url)
    try:
        info = await client.info("commandstats")
    except (RedisError, OSError):
        return {}
    finally:
        await client.aclose()
    return {
        name.removeprefix("cmdstat_"): int(stats["calls"])
        for name, stats in info.items()
        if isinstance(stats, dict) and "calls" in stats
    }


def diff_commands(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands issued between two :func:`redis_commands` readings (INFO's own left out)."""
    used = {k: v - before.get(k, 0) for k, v in after.items() if k not in ("info",)}
    return {k: v for k, v in used.items() if v > 0}


async def measure(
    stack: Stack,
    *,
    key: str,
    title: str,
    process: Process,
    requests_topic: str,
    status_topic: str,
    load: Load,
    check_order: bool = False,
) -> Result:
    """Warm ``process`` up, then run ``load`` through it and describe the result."""
    tenant_ids = tenants(stack.tenant_count)
    run = uuid.uuid4().hex[:6]
    wait = FETCH_MAX_WAIT_MS if load.rate is not None else BURST_FETCH_MAX_WAIT_MS
    async with Collector(stack.bootstrap, status_topic, wait) as collector:
        if load.warmup:
            warm = make_requests(f"warm-{key}-{run}", load.warmup, tenant_ids)
            warmed = await run_load(
                stack.bootstrap, requests_topic, collector, warm, timeout=load.timeout
            )
            if not warmed.complete:
                raise RuntimeError(
                    f"({key}) warm-up incomplete: {warmed.sent}/{warmed.produced} sent, "
                    f"other statuses {warmed.other}; log {process.log_path}:\n"
                    f"{process.log_tail()}"
                )
        reset = reset_peak_rss(process.pid)
        requests = make_requests(f"{key}-{run}", load.messages, tenant_ids)
        clock = CpuClock({process.name: process.pid, **stack.pids, "bench": os.getpid()})
        redis_before = await redis_commands(stack.redis_url)
        clock.start()
        outcome: Outcome = await run_load(
            stack.bootstrap,
            requests_topic,
            collector,
            requests,
            rate=load.rate,
            timeout=load.timeout,
        )
        cpu = clock.stop()
        peak = peak_rss_kib(process.pid) / 1024
        redis_used = diff_commands(redis_before, await redis_commands(stack.redis_url))
        notes = []
        redis_per_request = None
        if outcome.sent and sum(redis_used.values()) > outcome.sent / 10:
            redis_per_request = sum(redis_used.values()) / outcome.sent
            per = {k: v / outcome.sent for k, v in redis_used.items()}
            shown = ", ".join(
                f"{k} {v:.1f}" for k, v in sorted(per.items(), key=lambda x: -x[1]) if v >= 0.05
            )
            notes.append(
                f"Redis commands per request (those run by Lua scripts included): "
                f"{sum(per.values()):.1f} ({shown})"
            )
        if not reset:
            notes.append("peak RSS since process start (could not reset VmHWM)")
        if outcome.other:
            notes.append(f"other status events during the run: {outcome.other}")
        if not outcome.complete:
            notes.append(
                f"incomplete: {outcome.sent}/{outcome.produced} `sent` within {load.timeout:g}s"
            )
        if load.rate is not None and outcome.emit_latencies_ms:
            e50 = percentile(outcome.emit_latencies_ms, 50)
            e99 = percentile(outcome.emit_latencies_ms, 99)
            notes.append(
                f"to `sent` produced (its record's CreateTime, before the consumer's fetch "
                f"wait): p50 {e50:.1f} ms, p99 {e99:.1f} ms"
            )
        if check_order:
            order = {nid: i for i, nid in enumerate(collector.sent_at)}
            bad = order_violations(requests, order)
            notes.append(
                "order per recipient kept"
                if bad == 0
                else f"ORDER VIOLATED for {bad} requests (per-recipient order)"
            )
    return Result(
        key=key,
        title=title,
        messages=outcome.sent,
        seconds=round(outcome.seconds, 3),
        latencies_ms=outcome.latencies_ms,
        emit_latencies_ms=outcome.emit_latencies_ms,
        cpu_seconds=cpu,
        system_seconds=clock.system,
        peak_rss_mib=round(peak, 1),
        measured=process.name,
        offered_rate=load.rate,
        notes=notes,
        complete=outcome.complete,
        redis_per_request=redis_per_request,
    )
