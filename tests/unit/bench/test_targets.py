from __future__ import annotations

from typing import Any

from bench.report import Result, markdown
from bench.targets import ratio_lines, targets_table


def _result(key: str, messages: int, seconds: float, **fields: Any) -> Result:
    return Result(key=key, title=f"scenario {key}", messages=messages, seconds=seconds, **fields)


def test_ratios_to_both_anchors() -> None:
    results = [_result("a", 10_000, 1.0), _result("a2", 2000, 1.0), _result("b", 1200, 1.0)]
    assert ratio_lines(results) == ["ratio herald/raw: 0.12", "ratio herald/raw_http: 0.60"]
    assert ratio_lines(results[1:]) == ["ratio herald/raw_http: 0.60"]


def test_each_target_is_judged_against_its_figure() -> None:
    b = _result(
        "b",
        1000,
        1.0,
        cpu_seconds={"worker": 0.5},
        measured="worker",
        redis_per_request=7.5,
    )
    paced = _result(
        "b@1000/s", 9900, 10.0, offered_rate=1000.0, latencies_ms=[float(v) for v in range(120)]
    )
    c = _result("c", 2500, 1.0)
    table = targets_table([_result("a2", 1500, 1.0), b, paced, c])
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert rows["(b) ≥ 0.5x (a2)"].endswith("| yes |")  # 1000 / 1500 = 0.67
    assert rows["(c) ≥ 2,000/s, 50 ms provider"].endswith("| yes |")
    assert "**no**" in rows["1,000/s sustained, p99 request → `sent` < 100 ms"]  # p99 118 ms
    assert rows["Redis commands per request ≤ 8"].endswith("| yes |")
    assert "500 µs" in rows["worker CPU per request ≤ 300 µs"]
    assert "**no**" in rows["worker CPU per request ≤ 300 µs"]


def test_markdown_ends_with_both_ratio_lines() -> None:
    text = markdown(
        [_result("a", 100, 1.0), _result("a2", 40, 1.0), _result("b", 10, 1.0)], [], {"host": "h"}
    )
    assert text.rstrip().splitlines()[-2:] == [
        "ratio herald/raw: 0.10",
        "ratio herald/raw_http: 0.25",
    ]
