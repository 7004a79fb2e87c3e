"""The simulator's clock: manual (tests move it) or real time (demos).

One lock guards the state, because tests advance the clock from another thread than the
server's event loop.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

__all__ = ["DEFAULT_START", "SimClock"]

#: 2026-11-02T15:00:00Z, a Monday half an hour into the US cash session (EST, UTC-5).
DEFAULT_START: float = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc).timestamp()


class SimClock:
    """The time the simulated market believes it is, in UTC epoch seconds.

    A manual clock stands still until ``advance`` or ``set`` moves it; a real-time clock follows
    ``time.time()``, shifted so that it reads ``start`` at construction when a start is given.

    Args:
        start: The initial time; ``DEFAULT_START`` for a manual clock when omitted, and the
            wall clock itself for a real-time clock when omitted.
        realtime: Follow the wall clock instead of standing still.

    Example:
        >>> clock = SimClock(1_000.0)
        >>> clock.advance(60)
        1060.0
        >>> clock.set(0.0); clock.now()
        0.0
    """

    __slots__ = ("_lock", "_offset", "_realtime", "_t")

    def __init__(self, start: float | None = None, *, realtime: bool = False) -> None:
        self._lock = threading.Lock()
        self._realtime = realtime
        self._t = float(DEFAULT_START if start is None else start)
        self._offset = 0.0 if start is None else float(start) - time.time()

    @property
    def realtime(self) -> bool:
        """Whether the clock follows the wall clock."""
        return self._realtime

    def now(self) -> float:
        """The current simulated time, UTC epoch seconds."""
        if self._realtime:
            return time.time() + self._offset
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> float:
        """Move a manual clock forward and return the new time.

        Raises:
            ValueError: ``seconds`` is negative (use ``set`` to go back).
            RuntimeError: the clock is real-time.
        """
        if seconds < 0:
            raise ValueError(f"cannot advance the clock by {seconds!r} s: use set() to go back")
        with self._lock:
            self._require_manual("advance")
            self._t += float(seconds)
            return self._t

    def set(self, t: float) -> None:
        """Jump a manual clock to ``t``, forwards or backwards (clock-jump fault tests).

        Raises:
            RuntimeError: the clock is real-time.
        """
        with self._lock:
            self._require_manual("set")
            self._t = float(t)

    def _require_manual(self, what: str) -> None:
        if self._realtime:
            raise RuntimeError(
                f"cannot {what}() a real-time SimClock: create it with realtime=False"
            )

    def __repr__(self) -> str:
        mode = "realtime" if self._realtime else "manual"
        return f"SimClock({self.now()!r}, {mode})"
