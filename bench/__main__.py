"""``python -m bench`` (or ``make bench``): Herald's benchmark suite, one command.

Starts the embedded broker and Redis (or uses ``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL``),
the WhatsApp Business sandbox, and measures on the same broker:

  (a)  raw aiokafka: consume the requests, produce one status each, in batches
  (a2) the router's I/O alone: (a) plus one HTTP call per request to the same sandbox
  (b)  Herald end to end with a zero-latency provider (burst, then paced at --rate)
  (c)  the same with a provider that takes 50 ms per call
  (d)  the WhatsApp Web bridge against the simulator: memory and sends per session
  (m)  what one provider call, Redis command and Kafka request costs here
  (t)  what tracing costs the router: (b) bursts with tracing off and on, alternated
       (not in the default set: --only t)

It prints a table, the targets beside their figures and, last, ``ratio herald/raw: X.XX``
and ``ratio herald/raw_http: X.XX``. Results go to bench/results/.
A benchmark, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bench import herald_e2e, raw
from bench.herald_e2e import Scenario
from bench.measure import Load
from bench.report import (
    RESULTS_DIR,
    Result,
    SessionResult,
    machine,
    markdown,
    say,
    write_results,
)
from bench.stack import Stack
from bench.targets import ratio_lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--messages", type=int, default=20_000, help="requests per throughput run (20000)"
    )
    parser.add_argument(
        "--only",
        default="a,a2,b,c,d,m",
        help="scenarios to run, comma-separated (a,a2,b,c,d,m,t; m: per-operation costs; "
        "t: tracing off vs on, not in the default set)",
    )
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="requests/s of the latency runs (1000)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of each latency run (10)"
    )
    parser.add_argument(
        "--delay-ms", type=float, default=50.0, help="provider latency of (c), ms (50)"
    )
    parser.add_argument("--tenants", type=int, default=50, help="tenants the load spreads over")
    parser.add_argument(
        "--sessions", default="1,10,50", help="(d): WhatsApp Web session counts (1,10,50)"
    )
    parser.add_argument(
        "--flag-ablation",
        action="store_true",
        help="(d): also measure Herald's flags one group at a time, and candidate flags",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (fewer messages, 1 session)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the worker with py-spy during an extra (b) burst",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="print only; do not write bench/results/"
    )
    parser.add_argument("--workdir", type=Path, help="logs of the processes (default: a temp dir)")
    return parser


async def _run(args: argparse.Namespace) -> int:
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="herald-bench-"))
    info = machine()
    from datetime import UTC, datetime

    info["started"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["arguments"] = " ".join(sys.argv[1:])
    say(f"logs in {workdir}")
    warmup = 200 if args.quick else 500
    burst = Load(messages=args.messages, warmup=warmup)
    paced = Load(messages=max(1, int(args.rate * args.duration)), rate=args.rate, warmup=warmup)
    results: list[Result] = []
    sessions: list[SessionResult] = []
    notes: list[str] = []
    async with Stack.running(workdir, tenant_count=args.tenants) as stack:
        say(f"broker {stack.bootstrap}, redis {stack.redis_url}")
        if "a" in only:
            say("(a) raw aiokafka ...")
            results += await raw.run(
                stack,
                [
                    ("a", "raw aiokafka passthrough", burst),
                    (f"a@{args.rate:g}/s", "raw aiokafka, paced", paced),
                ],
            )
        if "a2" in only:
            from bench import raw_http

            say("(a2) the router's I/O alone (aiokafka + aiohttp) ...")
            results += await raw_http.run(stack, [("a2", "raw aiokafka + one HTTP call", burst)])
        scenarios = []
        if "b" in only:
            scenarios += [
                Scenario("b", "Herald, zero-latency provider", burst),
                Scenario(f"b@{args.rate:g}/s", "Herald, zero-latency provider, paced", paced),
            ]
        if "c" in only:
            scenarios.append(
                Scenario(
                    "c",
                    f"Herald, provider {args.delay_ms:g} ms per call",
                    burst,
                    provider_delay=args.delay_ms / 1000,
                    check_order=True,
                )
            )
        if scenarios or args.profile:
            say("(b)/(c) Herald end to end ...")
            measured, more = await herald_e2e.run(
                stack,
                scenarios,
                profile=burst if args.profile else None,
                profile_dir=RESULTS_DIR,
            )
            results += measured
            notes += more
        if "t" in only:
            from bench import tracing_cost

            say("(t) tracing off vs on ...")
            measured, more = await tracing_cost.run(stack, burst)
            results += measured
            notes += more
        for r in results:
            say(f"({r.key}) {r.throughput:,.0f}/s p50 {r.p50:.1f} ms p99 {r.p99:.1f} ms")
        if "m" in only:
            from bench import micro

            say("(m) per-operation costs ...")
            notes += await micro.run(stack, quick=args.quick)
        if "d" in only:
            from bench import whatsapp_web

            say("(d) WhatsApp Web bridge ...")
            counts = [1] if args.quick else [int(n) for n in args.sessions.split(",") if n]
            found, more = await whatsapp_web.run(
                stack, counts, quick=args.quick, workdir=workdir, ablation=args.flag_ablation
            )
            sessions += found
            notes += more
            info["versions"].update(whatsapp_web.versions())
    text = markdown(results, sessions, info, notes)
    print()
    print(text.split("\nratio herald/", 1)[0].rstrip())
    if not args.no_save:
        json_path, md_path = write_results(results, sessions, info, notes)
        print(f"\nresults: {json_path} and {md_path}")
    for line in ratio_lines(results):
        print(line)
    return 0


def main() -> int:
    args = _parser().parse_args()
    if args.quick:
        args.messages = min(args.messages, 1000)
        args.duration = min(args.duration, 2.0)
    logging.basicConfig(level=logging.WARNING)
    try:
        return asyncio.run(_cancellable(_run(args)))
    except asyncio.CancelledError:
        print("bench: stopped by SIGTERM", file=sys.stderr)
        return 143


async def _cancellable(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main``; SIGTERM cancels it, so the processes it started are stopped."""
    task = asyncio.ensure_future(main)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task


if __name__ == "__main__":
    sys.exit(main())
