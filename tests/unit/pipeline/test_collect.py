from __future__ import annotations

import asyncio

from streams.pipeline.collect import Collector


async def test_a_full_batch_is_handled_at_once_and_in_order() -> None:
    batches: list[list[int]] = []

    async def handle(items: list[int]) -> None:
        batches.append(items)

    collector = Collector(handle, max_size=3, window=60.0)  # the window never fires here
    for i in range(7):
        await collector.add(i)
    assert batches == [[0, 1, 2], [3, 4, 5]]
    await collector.flush()
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_partial_batch_goes_when_its_window_ends() -> None:
    handled = asyncio.Event()
    batches: list[list[str]] = []

    async def handle(items: list[str]) -> None:
        batches.append(items)
        handled.set()

    collector = Collector(handle, max_size=100, window=0.01)
    await collector.add("a")
    await collector.add("b")
    assert batches == []
    async with asyncio.timeout(5):
        await handled.wait()
    assert batches == [["a", "b"]]


async def test_batches_are_handled_one_at_a_time() -> None:
    gate = asyncio.Event()
    running = 0
    most = 0
    seen: list[int] = []

    async def handle(items: list[int]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await gate.wait()
        seen.extend(items)
        running -= 1

    collector = Collector(handle, max_size=2, window=0.001)
    first = asyncio.create_task(collector.add(0))
    second = asyncio.create_task(collector.add(1))  # fills the batch: handled, blocks
    third = asyncio.create_task(collector.add(2))
    fourth = asyncio.create_task(collector.add(3))  # a second full batch waits its turn
    await asyncio.sleep(0)
    gate.set()
    async with asyncio.timeout(5):
        await asyncio.gather(first, second, third, fourth)
        await collector.flush()
    assert most == 1
    assert seen == [0, 1, 2, 3]
