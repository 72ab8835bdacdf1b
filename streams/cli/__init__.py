"""The ``herald`` command line: one module per command, dispatched by :mod:`streams.cli.main`.

The entry point is ``streams.cli.main:main``; each command module exposes
``register(subparsers)``.
"""

from __future__ import annotations

__all__: list[str] = []
