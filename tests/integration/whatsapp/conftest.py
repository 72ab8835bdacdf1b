"""Fixtures of the WhatsApp integration tests (the rig itself: rig.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from schemas import Settings
from tests.helpers import WorkerProcess
from tests.integration.whatsapp.rig import RigStarter, rig_starter


@pytest.fixture
def start_rig(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Awaitable[WorkerProcess]],
    redis: Redis,
    tmp_path: Path,
) -> RigStarter:
    """``async with start_rig(rig_type, sim, sessions, **settings) as env``: see rig.py."""
    return rig_starter(settings_factory, worker_factory, redis, tmp_path)
