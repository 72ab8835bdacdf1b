"""One measured scenario: warm up, then load, and read what the measured process cost."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from bench.load import RECIPIENTS, Collector, Outcome, make_requests, recipient_index, run_load
from bench.procstats import CpuClock, peak_rss_kib, reset_peak_rss
from bench.report import Result, percentile
from bench.stack import Process, Stack, tenants

__all__ = ["Load", "measure", "order_violations"]


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
    async with Collector(stack.bootstrap, status_topic) as collector:
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
        notes = []
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
    )
