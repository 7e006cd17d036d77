"""SIGINT and SIGTERM during a run: stop it cleanly instead of dying in the middle of a write.

`Interruption` is a context manager a command wraps a run and the writing of its outputs in.
While it is active, SIGINT and SIGTERM neither raise nor kill: the first one is recorded
(`signum`) and calls every stop attached (`attach`), which the scenario engine uses to end the
run at its next step and report what happened so far; later ones are ignored (the run is
already ending). Leaving the context puts the previous handlers back, and the command then
raises `Interrupted(signum)` so the CLI exits 130 or 143.

A handler runs between two bytecodes of the main thread, so an attached stop must only set a
flag or hand work to its event loop (`call_soon_threadsafe`); it must never raise, write or
wait. A signal the process ignores (a background job's SIGINT) stays ignored; outside the main
thread signals cannot be caught, and the context does nothing. This
module owns the process's SIGINT/SIGTERM handlers during a run; it never writes a file and
never decides what a run reports.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

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
