"""Write (or with --check, verify) the generated pages under docs/."""

from __future__ import annotations

import sys
from pathlib import Path

from schemas.docs import GENERATED as MODEL_PAGES
from schemas.generated import write_or_check
from streams.cli.reference import render_cli_reference

#: Every generated page: the model pages, and the CLI reference from the argparse parsers.
GENERATED = {**MODEL_PAGES, "docs/cli.md": render_cli_reference}

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    pages = {rel: render() for rel, render in GENERATED.items()}
    return write_or_check(
        ROOT, pages, check="--check" in argv, what="docs", command="scripts/gen_docs.py"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
