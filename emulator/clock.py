"""Time for everything above the sans-IO core: a virtual clock and an asyncio adapter.

`VirtualClock` is a deterministic discrete-event scheduler: timers sit in a heap ordered by
(due time, arming order), and `run_until_idle()` / `run_until(t)` jump virtual time from one timer
to the next, so a day of OTA traffic runs in the wall time its callbacks take. `RealClock` offers
the same interface on an asyncio loop (virtual time with `radio.timeloop`, or the wall clock).
A `Pacer` is how the scenario engine waits: `StepPacer` steps a `VirtualClock` with no event
loop at all (the direct air's fast path), `LoopPacer` awaits on asyncio (zigpy, real time);
`stop()` ends a pacer's waits early (an interrupted run), and is safe from a signal handler.
The state machines never read either: their drivers pass `clock.now` in. This module owns
scheduling only; it never decides protocol behaviour and never reads wall time except in
`RealClock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class TimerHandle:
    """A `VirtualClock` timer; `cancel()` makes it never run."""

    __slots__ = ("_args", "_callback", "_queued", "_seq", "cancelled", "when")

    def __init__(
        self, when: float, callback: Callable[..., Any], args: tuple[Any, ...], seq: int = 0
    ):
        self.when = when
        self._callback = callback
        self._args = args
        self._seq = seq
        """Its arming order: with `when`, its place in the clock's order."""
        self._queued = True
        """It has an entry in the clock's heap (possibly an earlier one: see `rearm`)."""
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def _run(self) -> None:
        self._callback(*self._args)


class Timer(Protocol):
    """What a driver keeps of an armed timer: the means to cancel it."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """What drivers need from a clock."""

    @property
    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Timer: ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer: ...

    def rearm(
        self, timer: Timer | None, delay: float, callback: Callable[..., Any], *args: Any
    ) -> Timer:
        """`timer.cancel()` (when given), then `call_later(delay, callback, *args)`."""
        ...


class VirtualClock:
    """Deterministic discrete-event time. Equal due times run in the order they were armed."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self.events_run = 0

    @property
    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        when = float(when)
        if when < self._now:
            when = self._now
        seq = next(self._seq)
        handle = TimerHandle(when, callback, args, seq)
        heapq.heappush(self._heap, (when, seq, handle))
        return handle

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        # call_at inlined: every frame on the direct air and every client timer comes here.
        when = self._now + delay if delay > 0 else self._now
        seq = next(self._seq)
        handle = TimerHandle(when, callback, args, seq)
        heapq.heappush(self._heap, (when, seq, handle))
        return handle

    def rearm(
        self, timer: TimerHandle | None, delay: float, callback: Callable[..., Any], *args: Any
    ) -> TimerHandle:
        """`timer.cancel()` then `call_later(delay, callback, *args)`, in the same order of
        events. A driver re-arming its one timer at every frame (an OTA client's answer timeout)
        would leave a cancelled entry in the heap each time; instead a timer still waiting,
        whose heap entry is due no later than the new time, keeps that entry and takes its new
        time and arming order: when the old entry comes up, it goes back in at the new place
        (`_settle`), exactly where `call_later` would have put it."""
        when = self._now + delay if delay > 0 else self._now
        seq = next(self._seq)
        if timer is not None:
            if timer._queued and not timer.cancelled and timer.when <= when:
                # Its heap entry is at or before the old `when`, so at or before this one.
                timer.when = when
                timer._seq = seq
                timer._callback = callback
                timer._args = args
                return timer
            timer.cancel()
        handle = TimerHandle(when, callback, args, seq)
        heapq.heappush(self._heap, (when, seq, handle))
        return handle

    def pending(self) -> int:
        """Timers armed and not cancelled."""
        return sum(1 for _, _, h in self._heap if not h.cancelled)

    def next_due(self) -> float | None:
        """Due time of the next live timer, or None when idle."""
        self._settle()
        return self._heap[0][0] if self._heap else None

    def _settle(self) -> None:
        """Drop cancelled entries from the top of the heap and move re-armed ones to their new
        place, until the top entry is a live timer's own (or the heap is empty)."""
        heap = self._heap
        while heap:
            _when, seq, handle = heap[0]
            if handle.cancelled:
                heapq.heappop(heap)
            elif seq != handle._seq:  # re-armed later: it belongs further down
                heapq.heapreplace(heap, (handle.when, handle._seq, handle))
            else:
                return

    def step(self) -> bool:
        """Run the next live timer (advancing time to it). False when idle."""
        self._settle()
        if not self._heap:
            return False
        when, _, handle = heapq.heappop(self._heap)
        handle._queued = False
        self._now = when
        self.events_run += 1
        handle._run()
        return True

    def step_before(self, limit: float) -> bool:
        """Run the next live timer if it is due at or before `limit`; False when none is."""
        heap = self._heap
        if heap:
            top = heap[0][2]
            if top.cancelled or heap[0][1] != top._seq:
                self._settle()
        if not heap or heap[0][0] > limit:
            return False
        when, _, handle = heapq.heappop(heap)
        handle._queued = False
        self._now = when
        self.events_run += 1
        handle._callback(*handle._args)
        return True

    def run_until_idle(self, *, max_events: int | None = None) -> int:
        """Run timers until none is left (or `max_events` ran). Returns how many ran."""
        ran = 0
        while (max_events is None or ran < max_events) and self.step():
            ran += 1
        return ran

    def run_until(self, when: float) -> int:
        """Run every timer due at or before `when`, then set the time to `when`."""
        ran = 0
        while True:
            due = self.next_due()
            if due is None or due > when:
                break
            self.step()
            ran += 1
        self._now = max(self._now, float(when))
        return ran

    def advance(self, delta: float) -> int:
        """`run_until(now + delta)`."""
        return self.run_until(self._now + delta)


class RealClock:
    """The same interface over a running asyncio loop; time 0 is when the clock was made."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._origin = self._loop.time()
        # One context for every timer: the drivers' callbacks use no context variables, and
        # copying a context per timer is a third of a timer's cost.
        self._context = contextvars.copy_context()

    @property
    def now(self) -> float:
        return self._loop.time() - self._origin

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return self._loop.call_at(self._origin + when, callback, *args, context=self._context)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now + max(delay, 0.0), callback, *args)

    def rearm(
        self, timer: Timer | None, delay: float, callback: Callable[..., Any], *args: Any
    ) -> Timer:
        if timer is not None:
            timer.cancel()
        return self.call_later(delay, callback, *args)


class Pacer(Protocol):
    """How a scenario spends time: a clock, and ways to wait on it."""

    clock: Clock

    def wake(self) -> None:
        """Something the waiter waits for has happened: `until_woken` returns."""

    async def until_woken(self, deadline: float) -> None:
        """Let time run until `wake()` is next called or `deadline` is reached."""

    async def sleep(self, seconds: float) -> None:
        """Let time run for `seconds`."""

    stopped: bool
    """True once `stop()` was called: the waits return at once."""

    def stop(self) -> None:
        """End the waits early (the run is being interrupted); safe from a signal handler."""


class StepPacer:
    """Discrete-event time on a `VirtualClock`: the waits never suspend, they step the clock,
    so a coroutine that only awaits these finishes in one `send` (see `run_stepped`)."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self._woken = False
        self.stopped = False

    def wake(self) -> None:
        self._woken = True

    def stop(self) -> None:
        self.stopped = True  # only a flag: checked between steps

    async def until_woken(self, deadline: float) -> None:
        clock = self.clock
        self._woken = False
        while not (self._woken or self.stopped):
            if not clock.step_before(deadline):
                clock.run_until(max(clock.now, deadline))
                return

    async def sleep(self, seconds: float) -> None:
        if not self.stopped:
            self.clock.advance(seconds)


class LoopPacer:
    """Time on the running asyncio loop (virtual with `radio.timeloop`, or the wall clock)."""

    def __init__(self) -> None:
        self.clock = RealClock()
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.stopped = False

    def wake(self) -> None:
        self._event.set()

    def stop(self) -> None:
        self.stopped = True
        if not self._loop.is_closed():  # the wait wakes through the loop, never from here
            self._loop.call_soon_threadsafe(self._event.set)

    async def until_woken(self, deadline: float) -> None:
        if self.stopped:
            return
        self._event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(0.0, deadline - self.clock.now))

    async def sleep(self, seconds: float) -> None:
        if not self.stopped:
            await asyncio.sleep(seconds)


def run_stepped(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it waits only on a `StepPacer`) to its result."""
    try:
        main.send(None)
    except StopIteration as done:
        return done.value
    main.close()
    raise RuntimeError("a stepped coroutine waited on something other than its StepPacer")
