"""VirtualClock: deterministic discrete-event time; RealClock: the same interface on asyncio."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_rearm_moves_a_waiting_timer_and_replaces_one_that_ran():
    clock = VirtualClock()
    seen = []
    timer = clock.rearm(None, 1.0, seen.append, "first")
    assert clock.rearm(timer, 2.0, seen.append, "moved") is timer  # kept its heap entry
    clock.call_later(2.0, seen.append, "armed after")
    assert clock.pending() == 2 and clock.next_due() == 2.0
    clock.run_until_idle()
    assert seen == ["moved", "armed after"]
    again = clock.rearm(timer, 0.5, seen.append, "new")
    assert again is not timer and clock.run_until_idle() == 1 and seen[-1] == "new"


# Operations on a few timer slots: arm (or re-arm) slot i after a delay, cancel it, or run one
# timer. Delays come from a small set so that equal due times (ties) are frequent.
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("arm"), st.integers(0, 3), st.sampled_from([0.0, 0.5, 1.0, 1.5, 3.0])),
        st.tuples(st.just("cancel"), st.integers(0, 3), st.just(0.0)),
        st.tuples(st.just("step"), st.just(0), st.just(0.0)),
    ),
    max_size=60,
)


@given(ops=_OPS)
@settings(max_examples=400)
def test_rearm_runs_every_timer_when_and_in_the_order_cancel_then_call_later_would(ops):
    def play(rearm: bool) -> list[tuple[float, int, int]]:
        clock = VirtualClock()
        seen: list[tuple[float, int, int]] = []
        slots: dict[int, object] = {}

        def fired(slot: int, n: int) -> None:
            seen.append((clock.now, slot, n))
            slots.pop(slot, None)
            if n % 3 == 0:  # a callback re-arming its own slot, as a driver's timer does
                arm(slot, 0.5, n + 1000)

        def arm(slot: int, delay: float, n: int) -> None:
            old = slots.get(slot)
            if rearm:
                slots[slot] = clock.rearm(old, delay, fired, slot, n)
            else:
                if old is not None:
                    old.cancel()
                slots[slot] = clock.call_later(delay, fired, slot, n)

        for n, (op, slot, delay) in enumerate(ops):
            if op == "arm":
                arm(slot, delay, n)
            elif op == "cancel" and slot in slots:
                slots.pop(slot).cancel()
            elif op == "step":
                clock.step()
            assert clock.pending() == len(slots)
        clock.run_until_idle(max_events=500)
        return seen

    assert play(rearm=True) == play(rearm=False)
