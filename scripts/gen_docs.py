"""Write (or with --check, verify) the generated pages under docs/."""

from __future__ import annotations

import sys
from pathlib import Path

from schemas.docs import GENERATED as MODEL_PAGES
from streams.cli.reference import render_cli_reference

#: Every generated page: the model pages, and the CLI reference from the argparse parsers.
GENERATED = {**MODEL_PAGES, "docs/cli.md": render_cli_reference}

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for rel, render in GENERATED.items():
        path = ROOT / rel
        text = render()
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {rel}")
    if stale:
        print("stale generated docs (run `python scripts/gen_docs.py`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
