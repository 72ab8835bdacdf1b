"""The ``herald`` command line: one module per command, dispatched by :mod:`streams.cli.main`.

The entry point is ``streams.cli.main:main``; each command module exposes
``register(subparsers)``, which adds its (sub)commands with ``_support.add_command`` (the
parser and the function it runs, in one call) and ``_support.add_actions``.
"""

from __future__ import annotations

__all__: list[str] = []
