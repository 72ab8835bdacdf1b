"""The targets of issue 13, each beside its figure from one run (all side by side).

| target | figure |
|---|---|
| (b) ≥ 0.5x (a2) | Herald's zero-latency throughput over the minimal program doing its I/O |
| (c) ≥ 2,000/s | Herald with a 50 ms provider |
| paced run sustained, p99 < 100 ms | (b@rate): throughput within 2 % of the offered rate |
| Redis commands per request ≤ 8 | during (b), Lua scripts' commands included |
| worker CPU per request ≤ 300 µs | during (b) |
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.report import Result

__all__ = ["ratio_lines", "targets_table"]


def _by_prefix(results: Sequence[Result], prefix: str) -> Result | None:
    return next((r for r in results if r.key.startswith(prefix)), None)


def ratio_lines(results: Sequence[Result]) -> list[str]:
    """``ratio herald/raw`` and ``ratio herald/raw_http`` for the scenarios that ran."""
    by_key = {r.key: r for r in results}
    b = by_key.get("b")
    lines = []
    for key, name in (("a", "raw"), ("a2", "raw_http")):
        anchor = by_key.get(key)
        if b is None or anchor is None or not anchor.throughput or math.isnan(anchor.throughput):
            continue
        lines.append(f"ratio herald/{name}: {b.throughput / anchor.throughput:.2f}")
    return lines


def _row(target: str, figure: str, met: bool | None) -> str:
    verdict = "-" if met is None else ("yes" if met else "**no**")
    return f"| {target} | {figure} | {verdict} |"


def targets_table(results: Sequence[Result]) -> str:
    by_key = {r.key: r for r in results}
    b, a2, c = by_key.get("b"), by_key.get("a2"), by_key.get("c")
    paced = _by_prefix([r for r in results if r.key != "b"], "b@")
    rows = ["| target | measured in this run | met? |", "|---|---|---|"]
    if b is not None and a2 is not None and a2.throughput:
        ratio = b.throughput / a2.throughput
        figure = f"{b.throughput:,.0f}/s vs {a2.throughput:,.0f}/s = {ratio:.2f}x"
        rows.append(_row("(b) ≥ 0.5x (a2)", figure, ratio >= 0.5))
    if c is not None:
        rows.append(
            _row("(c) ≥ 2,000/s, 50 ms provider", f"{c.throughput:,.0f}/s", c.throughput >= 2000)
        )
    if paced is not None and paced.offered_rate:
        kept = paced.complete and paced.throughput >= 0.98 * paced.offered_rate
        figure = (
            f"{paced.throughput:,.0f}/s of {paced.offered_rate:,.0f}/s offered, "
            f"p99 {paced.p99:,.1f} ms"
        )
        rows.append(
            _row(
                f"{paced.offered_rate:,.0f}/s sustained, p99 request → `sent` < 100 ms",
                figure,
                kept and paced.p99 < 100,
            )
        )
    if b is not None and b.redis_per_request is not None:
        rows.append(
            _row(
                "Redis commands per request ≤ 8",
                f"{b.redis_per_request:.1f}",
                b.redis_per_request <= 8,
            )
        )
    if b is not None and b.cpu is not None and b.messages:
        per = b.cpu / b.messages * 1e6
        rows.append(_row("worker CPU per request ≤ 300 µs", f"{per:,.0f} µs", per <= 300))
    return "\n".join(rows) if len(rows) > 2 else ""
