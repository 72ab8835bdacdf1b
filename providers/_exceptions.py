"""Kept for imports written before the error tree moved to :mod:`schemas.errors`: the same
names (the whole tree), from their one definition."""

from __future__ import annotations

from schemas.errors import *  # noqa: F403
from schemas.errors import __all__ as __all__
