"""Writing (or checking) files generated from the code: ``scripts/gen_docs.py`` and
``scripts/gen_clients.py``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_or_check"]


def write_or_check(
    root: Path, files: Mapping[str, str], *, check: bool, what: str, command: str
) -> int:
    """Write each ``files[rel]`` to ``root / rel``; with ``check``, write nothing and
    list the ones that differ (1) instead. ``what`` and ``command`` name them in that list."""
    stale = []
    for rel, text in files.items():
        path = root / rel
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {rel}")
    if stale:
        print(f"stale generated {what} (run `python {command}`): " + ", ".join(stale))
        return 1
    return 0
