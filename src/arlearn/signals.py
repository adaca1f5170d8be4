"""Stopping on SIGINT/SIGTERM at a safe point, in every phase of a run.

While a `StopFlag` is active (`with StopFlag() as stop:`), SIGINT/SIGTERM only record the signal;
a second one stops at once. Long loops call `check_stop(what)` between units of work (a chunk of
generated data, a training step, …): it raises `Interrupted` (a KeyboardInterrupt) naming the
signal and the phase, so the CLI exits with status 130 promptly, whether the signal came during
data generation or training. The training loop instead finishes its step, checkpoints, and
raises `errors.TrainingStopped`. Without an active flag (library use) nothing changes: SIGINT is
Python's KeyboardInterrupt as usual.
"""

from __future__ import annotations

import signal
import threading

from arlearn.errors import Interrupted

_ACTIVE: list["StopFlag"] = []


class StopFlag:
    """While active, SIGINT/SIGTERM set `.signal` instead of killing the process, so the running
    loop can stop at a safe point. A second signal stops immediately."""

    def __init__(self):
        self.signal: int | None = None
        self._old: dict = {}

    def _handler(self, signum, frame):
        if self.signal is not None:  # asked twice: stop now
            self.__exit__(None, None, None)
            raise Interrupted(f"{signal.Signals(signum).name} twice: stopped at once")
        self.signal = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handler)
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old = {}
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        return False

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else ""


def stop_signal() -> str:
    """The name of the signal an active StopFlag has caught ("" if none)."""
    return next((f.name for f in _ACTIVE if f.signal), "")


def check_stop(what: str) -> None:
    """Raise `Interrupted` when an active StopFlag has caught a signal (call between units of work)."""
    name = stop_signal()
    if name:
        raise Interrupted(f"{name} during {what}: stopped before training started, nothing to resume")
