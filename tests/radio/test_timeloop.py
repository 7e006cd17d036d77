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


def test_virtual_time_waits_for_executor_jobs():
    """A job on another thread takes real time: virtual time does not jump past a timeout armed
    around it (zigpy loads OTA provider indexes with `run_in_executor` under a 20 s timeout), and
    timers due later still fire in order once it is done."""
    release = threading.Event()

    def job() -> str:
        release.wait()  # done only when the loop has had every chance to jump ahead
        return "loaded"

    async def main():
        loop = asyncio.get_running_loop()
        fired = []
        loop.call_later(5, fired.append, "timer")
        loop.call_soon(lambda: threading.Timer(0.05, release.set).start())
        async with asyncio.timeout(20):
            result = await loop.run_in_executor(None, job)
        at = loop.time()
        await asyncio.to_thread(lambda: None)
        await asyncio.sleep(10)
        return result, at, fired, loop.time()

    assert timeloop.run(main()) == ("loaded", 0.0, ["timer"], 10.0)
