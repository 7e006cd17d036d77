"""VirtualClock: deterministic discrete-event time; RealClock: the same interface on asyncio."""

from __future__ import annotations

import asyncio

from emulator.clock import RealClock, VirtualClock


def test_timers_run_in_due_order_then_arming_order():
    clock = VirtualClock()
    seen = []
    clock.call_later(2.0, seen.append, "b")
    clock.call_later(1.0, seen.append, "a1")
    clock.call_later(1.0, seen.append, "a2")
    clock.call_at(0.5, seen.append, "first")
    assert clock.run_until_idle() == 4
    assert seen == ["first", "a1", "a2", "b"]
    assert clock.now == 2.0


def test_cancelled_timers_never_run_and_run_until_stops_at_the_time():
    clock = VirtualClock()
    seen = []
    handle = clock.call_later(1.0, seen.append, "cancelled")
    clock.call_later(3.0, seen.append, "late")
    handle.cancel()
    assert clock.pending() == 1
    clock.run_until(2.5)
    assert seen == [] and clock.now == 2.5
    clock.advance(1.0)
    assert seen == ["late"] and clock.now == 3.5
    assert clock.next_due() is None and not clock.step()


def test_callbacks_can_arm_timers_and_past_times_run_now():
    clock = VirtualClock(start=10.0)
    seen = []

    def tick(n):
        seen.append((clock.now, n))
        if n < 3:
            clock.call_later(0.25, tick, n + 1)

    clock.call_at(5.0, tick, 0)  # in the past: runs at "now"
    clock.run_until_idle()
    assert seen == [(10.0, 0), (10.25, 1), (10.5, 2), (10.75, 3)]


def test_max_events_bounds_a_run():
    clock = VirtualClock()

    def forever():
        clock.call_later(1.0, forever)

    forever()
    assert clock.run_until_idle(max_events=100) == 100
    assert clock.now == 100.0


async def test_real_clock_runs_callbacks_on_the_loop():
    clock = RealClock()
    done = asyncio.get_running_loop().create_future()
    cancelled = clock.call_later(0.01, done.set_result, "cancelled")
    cancelled.cancel()
    clock.call_later(0.02, done.set_result, "fired")
    assert await asyncio.wait_for(done, 2.0) == "fired"
    assert clock.now >= 0.02
