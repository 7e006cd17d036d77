"""An asyncio event loop whose clock is virtual: it jumps to the next timer when idle.

zigpy is asyncio code: it sleeps, arms timeouts and retries through the running loop. Running it
on `VirtualTimeLoop` makes all of that virtual with no change to zigpy: `loop.time()` returns
virtual seconds, and when no callback is ready the loop's selector, instead of blocking for the
time until the next timer, advances virtual time by exactly that much. Callbacks run in the
order plain asyncio would run them, so a run is deterministic and a 64 KiB download over the real
zigpy stack costs only the CPU its callbacks take. Real I/O still works: the selector polls the
real file descriptors first (the loop's self-pipe, sockets) and blocks on them only when no timer
is armed at all.

`emulator.clock.RealClock` on this loop is the scheduler the sans-IO machines' drivers use, so
the OTA clients of emulated devices and zigpy share one timeline. This module owns virtual time
for asyncio; it never touches packets and never reads wall time.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """Polls real file descriptors without blocking; turns a wait into a jump in time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            return super().select(None)  # nothing armed: only real I/O can wake the loop
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop in virtual time, starting at `start` seconds."""

    def __init__(self, start: float = 0.0) -> None:
        self._virtual = _VirtualSelector()
        self._virtual.now = float(start)
        super().__init__(self._virtual)
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._virtual.now


def run(main: Coroutine[Any, Any, T], *, realtime: bool = False) -> T:
    """Run a coroutine to completion in virtual time (or on a normal loop with `realtime`)."""
    if realtime:
        return asyncio.run(main)
    loop = VirtualTimeLoop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
