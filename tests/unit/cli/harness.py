"""Running ``herald`` in-process, as the CLI tests do."""

from __future__ import annotations

import pytest

from streams.cli.main import main

__all__ = ["run"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``herald ARGV``: its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
