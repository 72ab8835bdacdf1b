"""A doctor check's result, and how the results are printed."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TextIO

import orjson

__all__ = ["Check", "Outcome", "print_checks", "render"]


class Outcome(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but not as production needs it
    FAIL = "fail"  # Herald cannot work like this: the exit code is 1
    SKIP = "skip"  # not checked (disabled, or a check it depends on failed)


_SYMBOLS = {Outcome.OK: "✓", Outcome.WARN: "!", Outcome.FAIL: "✗", Outcome.SKIP: "-"}
_ASCII = {Outcome.OK: "ok", Outcome.WARN: "warn", Outcome.FAIL: "FAIL", Outcome.SKIP: "skip"}


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    summary: str
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "hint": self.hint,
            "details": self.details,
        }


def _symbols(stream: TextIO) -> dict[Outcome, str]:
    try:
        "✓✗".encode(stream.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return _ASCII
    return _SYMBOLS


def render(checks: list[Check], stream: TextIO | None = None) -> None:
    """One line per check (``✓ name  summary``), and an indented hint when there is one."""
    out = stream if stream is not None else sys.stdout
    symbols = _symbols(out)
    mark = max(len(s) for s in symbols.values())
    width = max(len(c.name) for c in checks)
    for check in checks:
        symbol = symbols[check.outcome]
        print(f"{symbol:<{mark}} {check.name:<{width}}  {check.summary}", file=out)
        if check.hint and check.outcome in (Outcome.FAIL, Outcome.WARN):
            print(f"{' ' * (mark + 1 + width)}  hint: {check.hint}", file=out)


def print_checks(checks: list[Check], *, as_json: bool, stream: TextIO | None = None) -> None:
    """The checks as lines (:func:`render`), or as ``{"ok": ..., "checks": [...]}``."""
    if not as_json:
        render(checks, stream)
        return
    out = stream if stream is not None else sys.stdout
    failed = any(c.outcome is Outcome.FAIL for c in checks)
    document = {"ok": not failed, "checks": [c.as_dict() for c in checks]}
    out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
