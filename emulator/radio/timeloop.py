"""An asyncio event loop whose clock is virtual: it jumps to the next timer when idle.

zigpy is asyncio code: it sleeps, arms timeouts and retries through the running loop. Running it
on `VirtualTimeLoop` makes all of that virtual with no change to zigpy: `loop.time()` returns
virtual seconds, and when no callback is ready the loop's selector, instead of blocking for the
time until the next timer, advances virtual time by exactly that much. Callbacks run in the
order plain asyncio would run them, so a run is deterministic and a 64 KiB download over the real
zigpy stack costs only the CPU its callbacks take. Real I/O still works: the selector polls the
real file descriptors first (the loop's self-pipe, sockets) and blocks on them only when no timer
is armed at all.

Work on other threads is real time, not virtual: a job handed to `loop.run_in_executor` (zigpy
loads its OTA provider indexes that way, and `asyncio.to_thread` uses it) takes as long as it
takes. While any such job is outstanding the loop does not advance virtual time; it waits for the
job instead, so a timeout armed around it (zigpy's 20 s index fetch) cannot fire just because the
loop had nothing else to do.

`emulator.clock.RealClock` on this loop is the scheduler the sans-IO machines' drivers use, so
the OTA clients of emulated devices and zigpy share one timeline. This module owns virtual time
for asyncio; it never touches packets and never reads wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """Polls real file descriptors without blocking; turns a wait into a jump in time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.outstanding = 0
        """Executor jobs the loop waits for: while any is, virtual time stands still."""

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None or self.outstanding:
            # Nothing armed, or a thread's job pending: only real I/O (the loop's self-pipe,
            # written when the job's result is handed back) can wake the loop.
            return super().select(None)
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

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> Any:
        """`run_in_executor`, with virtual time held until the job's future is done."""
        future = super().run_in_executor(executor, func, *args)
        self._virtual.outstanding += 1
        future.add_done_callback(self._executor_done)
        return future

    def _executor_done(self, _future: asyncio.Future[Any]) -> None:
        self._virtual.outstanding -= 1


@contextlib.contextmanager
def time_held() -> Iterator[None]:
    """Inside, virtual time stands still on the running loop, as while an executor job is
    outstanding: for an exchange over real loopback sockets (an HTTP request to a server on the
    same loop) that must land at the instant it was made. A no-op on any other loop."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, VirtualTimeLoop):
        yield
        return
    loop._virtual.outstanding += 1
    try:
        yield
    finally:
        loop._virtual.outstanding -= 1


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
