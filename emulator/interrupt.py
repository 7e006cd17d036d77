"""SIGINT and SIGTERM: one line and exit 130 or 143, and a run stopped cleanly, never torn.

Outside a run, `raise_on_signals()` (installed by the CLI's entry point) makes both signals
raise `Interrupted(signum)` wherever the main thread is, like Ctrl-C's KeyboardInterrupt but a
signal Python does not treat specially: a KeyboardInterrupt raised inside code an extension
module runs makes the interpreter kill itself with SIGINT at exit (status -2) even once handled.
A signal that lands where Python ignores exceptions (a weakref callback, `__del__`) is sent
again, and `signal_behind` finds one that a class statement wrapped in another exception.
Once the command is over, `signals_ignored()` keeps a late signal from killing the exit.

During a run, `Interruption` is a context manager a command wraps the run and the writing of
its outputs in. While it is active, SIGINT and SIGTERM neither raise nor kill: the first one is
recorded (`signum`) and calls every stop attached (`attach`), which the scenario engine uses to
end the run at its next step and report what happened so far; later ones are ignored (the run
is already ending). Leaving the context puts the previous handlers back, and the command then
raises `Interrupted(signum)` so the CLI exits 130 or 143.

A handler runs between two bytecodes of the main thread, so an attached stop must only set a
flag or hand work to its event loop (`call_soon_threadsafe`); it must never raise, write or
wait. A signal the process ignores (a background job's SIGINT) stays ignored; outside the main
thread signals cannot be caught, and the context does nothing. This module owns the process's
SIGINT/SIGTERM handlers; it never writes a file and never decides what a run reports.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from emulator.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)

Stop = Callable[[], None]


class Interruption:
    """Catches SIGINT and SIGTERM while active; `signum` is the first one caught, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._stops: list[Stop] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interruption:
        if threading.current_thread() is not threading.main_thread():
            return self
        try:
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. started in background
                    self._previous[sig] = signal.signal(sig, self._caught)
        except BaseException:  # the other signal came first, through its old handler
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        self._stops.clear()

    def _caught(self, signum: int, _frame: object) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        for stop in list(self._stops):
            stop()

    def attach(self, stop: Stop) -> None:
        """Call `stop` on the first signal (at once if one came already)."""
        self._stops.append(stop)
        if self.signum is not None:
            stop()

    def detach(self, stop: Stop) -> None:
        """Forget `stop` (its run is over)."""
        if stop in self._stops:
            self._stops.remove(stop)


# -- outside a run ------------------------------------------------------------------------------


def raise_on_signals() -> None:
    """From now on SIGINT and SIGTERM raise `Interrupted` (signals the process ignores stay
    ignored); call once, in the main thread, before the command runs."""
    for sig in SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _raise)
    sys.unraisablehook = _sent_again(sys.unraisablehook)


def signals_ignored() -> None:
    """The command is over: SIGINT and SIGTERM change nothing any more. (Python puts the default
    handlers back while it shuts down, and one arriving then would kill the process with the
    signal instead of the exit status the command chose.)"""
    for sig in SIGNALS:
        if signal.getsignal(sig) is _raise:
            signal.signal(sig, signal.SIG_IGN)
    if signal.getsignal(signal.SIGALRM) is _deliver_again:  # nothing is delivered again either
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)


def _raise(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


_again: list[int] = []
"""The signal to deliver again, once the code that ignored it has returned."""


def _sent_again(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, Interrupted):  # ignored where it landed: send it again
            _again[:] = [info.exc_value.signum]
            signal.signal(signal.SIGALRM, _deliver_again)
            signal.setitimer(signal.ITIMER_REAL, 0.001)  # later: not inside this callback
            return
        hook(info)

    return unraisable


def _deliver_again(_alarm: int, frame: Any) -> None:
    if _again:
        signum = _again.pop()
        handler = signal.getsignal(signum)  # a run's own handler, if one has started since
        if callable(handler):
            handler(signum, frame)


def signal_behind(exc: BaseException) -> BaseException | None:
    """The `Interrupted` or KeyboardInterrupt that `exc` was raised from, or None: Python 3.11
    turns one raised in a class's `__set_name__` into RuntimeError (and the enum machinery
    into TypeError), so a signal landing while a module loads arrives in disguise."""
    seen: BaseException | None = exc
    for _ in range(8):
        seen = None if seen is None else (seen.__cause__ or seen.__context__)
        if isinstance(seen, Interrupted | KeyboardInterrupt):
            return seen
    return None
