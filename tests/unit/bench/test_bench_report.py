"""The bench's pure parts: percentiles, tables, the ratio line, profiles, request spreading.

The bench itself never runs in the test suite (it measures; it must not fail on a slow
machine): only its arithmetic is checked here.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from bench.load import make_requests, recipient_index
from bench.measure import order_violations
from bench.profile import parse_collapsed, summarize
from bench.report import Result, markdown, percentile, ratio_line, throughput_table


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_percentile_ignores_input_order() -> None:
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0


def _result(key: str, messages: int, seconds: float, **fields: Any) -> Result:
    return Result(key=key, title=f"scenario {key}", messages=messages, seconds=seconds, **fields)


def test_ratio_line_is_b_throughput_over_a() -> None:
    a = _result("a", 50_000, 1.0)
    b = _result("b", 10_000, 1.0)
    assert ratio_line([a, b]) == "ratio herald/raw: 0.20"
    assert ratio_line([b]) is None


def test_table_reports_cpu_per_message_and_latency() -> None:
    b = _result(
        "b",
        1000,
        2.0,
        latencies_ms=[float(v) for v in range(1, 101)],
        cpu_seconds={"worker": 0.5, "broker": 0.2},
        system_seconds={"worker": 0.1, "broker": 0.1},
        peak_rss_mib=150.0,
        measured="worker",
    )
    table = throughput_table([b])
    row = table.splitlines()[-1]
    assert "| 500 |" in row  # throughput: 1000 messages in 2 s
    assert "| 50.5 | 99.0 |" in row  # p50, p99 of 1..100 ms
    assert "0.50 (worker)" in row
    assert "| 500 | 150 |" in row  # 0.5 s / 1000 messages = 500 µs; peak RSS


def test_markdown_ends_with_the_ratio_line() -> None:
    text = markdown([_result("a", 100, 1.0), _result("b", 10, 1.0)], [], {"host": "h"})
    assert text.rstrip().splitlines()[-1] == "ratio herald/raw: 0.10"


def test_profile_summary_shares_self_time_by_package_and_function() -> None:
    lines = [
        "main (streams/cli/main.py:1);send (httpx/_client.py:10) 30",
        "main (streams/cli/main.py:1);claim (streams/pipeline/state.py:5);call (redis/client.py:3) 10",
        "main (streams/cli/main.py:1);claim (streams/pipeline/state.py:5) 10",
        "",
        "garbage line without count",
    ]
    profile = summarize(parse_collapsed(lines))
    assert profile.samples == 50
    packages = dict(profile.self_by_package)
    assert packages["httpx"] == pytest.approx(60.0)
    assert packages["redis-py"] == pytest.approx(20.0)
    assert packages["herald: streams"] == pytest.approx(20.0)
    areas = dict(profile.by_area)
    assert areas["Redis client (redis-py)"] == pytest.approx(20.0)
    assert areas["provider HTTP call (httpx, aiohttp, httpcore)"] == pytest.approx(60.0)
    inclusive = dict(profile.inclusive_by_frame)
    assert inclusive["claim (streams/pipeline/state.py)"] == pytest.approx(40.0)
    assert inclusive["main (streams/cli/main.py)"] == pytest.approx(100.0)


def test_requests_spread_over_tenants_and_one_tenant_per_recipient() -> None:
    tenants = [f"t{i}" for i in range(50)]
    requests = make_requests("run", 5000, tenants)
    owners: dict[str, set[bytes]] = {}
    for key, value, nid in requests:
        body = orjson.loads(value)
        assert body["id"] == nid
        assert body["tenantId"].encode() == key
        owners.setdefault(body["recipient"]["phone"], set()).add(key)
    assert len(owners) == 1000
    assert all(len(keys) == 1 for keys in owners.values())
    assert {recipient_index(i) for i in range(1000)} == set(range(1000))


def test_order_violations_counts_requests_overtaken_per_recipient() -> None:
    requests = make_requests("run", 2000, ["t"])  # recipient i and i + 1000 are the same
    in_order = {nid: i for i, (_, _, nid) in enumerate(requests)}
    assert order_violations(requests, in_order) == 0
    swapped = dict(in_order)
    first, second = requests[3][2], requests[1003][2]
    swapped[first], swapped[second] = swapped[second], swapped[first]
    assert order_violations(requests, swapped) == 1
