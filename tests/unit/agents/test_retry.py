"""A retry agent's wait for a record's due time ends when a rebalance or a stop begins."""

from __future__ import annotations

import asyncio

from mode.utils.queues import FlowControlEvent

from streams.agents.retry import SUSPEND_CHECK_SECONDS, until_due


async def test_the_wait_runs_to_the_due_time_while_the_flow_goes_on() -> None:
    flow = FlowControlEvent()
    flow.resume()
    assert await until_due(flow, 0.05)


async def test_a_suspended_flow_ends_the_wait_early() -> None:
    flow = FlowControlEvent()
    flow.resume()
    waiting = asyncio.create_task(until_due(flow, 3600))  # a retry due in an hour
    await asyncio.sleep(0)
    assert not waiting.done()
    flow.suspend()  # what Faust does first in a rebalance and in a stop
    async with asyncio.timeout(SUSPEND_CHECK_SECONDS * 10):
        assert not await waiting


async def test_a_flow_suspended_already_does_not_wait_at_all() -> None:
    flow = FlowControlEvent()
    flow.suspend()
    async with asyncio.timeout(SUSPEND_CHECK_SECONDS):
        assert not await until_due(flow, 3600)
