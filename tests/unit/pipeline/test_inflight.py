from __future__ import annotations

import asyncio

from streams.pipeline.inflight import InFlight


async def test_same_key_runs_in_order_and_other_keys_overlap() -> None:
    pool = InFlight(limit=8)
    log: list[str] = []
    gate = asyncio.Event()
    b_done = asyncio.Event()
    done = asyncio.Event()
    finished: list[str] = []

    def job(name: str, wait: bool) -> object:
        async def run() -> None:
            log.append(f"start {name}")
            if wait:
                await gate.wait()
            log.append(f"end {name}")
            if name == "b1":
                b_done.set()

        return run

    def on_done(name: str) -> object:
        async def cb() -> None:
            finished.append(name)
            if len(finished) == 3:
                done.set()

        return cb

    await pool.submit("a", job("a1", True), on_done("a1"))  # type: ignore[arg-type]
    await pool.submit("a", job("a2", False), on_done("a2"))  # type: ignore[arg-type]
    await pool.submit("b", job("b1", False), on_done("b1"))  # type: ignore[arg-type]
    # b1 completes while a1 is still blocked: keys overlap...
    await asyncio.wait_for(b_done.wait(), 5)
    assert "start a2" not in log  # ...but a2 waits for a1
    gate.set()
    await asyncio.wait_for(done.wait(), 5)
    assert log.index("end a1") < log.index("start a2")
    assert sorted(finished) == ["a1", "a2", "b1"]


async def test_limit_blocks_submit_until_a_slot_frees() -> None:
    pool = InFlight(limit=1)
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()

    async def noop() -> None:
        return None

    await pool.submit("x", slow, noop)
    second = asyncio.create_task(pool.submit("y", noop, noop))
    await asyncio.sleep(0)
    assert not second.done()  # backpressure
    gate.set()
    await asyncio.wait_for(second, 5)
    assert await pool.drain(timeout=5)


async def test_failing_job_still_calls_done() -> None:
    pool = InFlight(limit=2)
    called = asyncio.Event()

    async def boom() -> None:
        raise RuntimeError("bug")

    async def cb() -> None:
        called.set()

    await pool.submit("k", boom, cb)
    await asyncio.wait_for(called.wait(), 5)
    assert pool.active == 0 or await pool.drain(timeout=5)
