"""Faust agents, grouped by domain. Each module exposes ``register(app, topics, runtime)``."""

from __future__ import annotations

from streams.agents import router

__all__ = ["router"]
