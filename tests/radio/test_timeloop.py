"""The virtual-time event loop: time jumps, in order, and real I/O still wakes it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from emulator.radio import timeloop


def test_sleeps_and_timeouts_run_in_virtual_time():
    async def main():
        loop = asyncio.get_running_loop()
        order = []
        loop.call_later(7200, order.append, "late")
        loop.call_later(5, order.append, "early")
        await asyncio.sleep(3600)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.sleep(1000)
        await asyncio.sleep(4000)
        return loop.time(), order

    now, order = timeloop.run(main())
    assert now == 7630
    assert order == ["early", "late"]


def test_a_thread_can_wake_an_idle_loop():
    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        threading.Thread(target=lambda: loop.call_soon_threadsafe(done.set_result, 42)).start()
        return await done, loop.time()

    assert timeloop.run(main()) == (42, 0.0)
