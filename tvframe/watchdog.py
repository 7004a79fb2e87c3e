"""A deadline that cancels a task unless it is pushed back: the reader's silence detector.

``asyncio.wait_for`` around every ``recv()`` would do the same, but in Python 3.10 and 3.11 it
wraps each receive in a new task: a loop round trip per frame, a large share of a busy live
feed's cost. Here feeding costs one clock read, and a timer fires only when the deadline
passed while the loop was free to read: a timer that ran late (the loop was busy) first gives
the reader a short grace to catch up.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Watchdog"]


class Watchdog:
    """Cancels ``task`` once ``timeout`` seconds pass without :meth:`feed`.

    Example:
        >>> async def main() -> bool:
        ...     async def silent() -> None:
        ...         await asyncio.sleep(10)
        ...     task = asyncio.ensure_future(silent())
        ...     dog = Watchdog(task, 0.01)
        ...     try:
        ...         await task
        ...     except asyncio.CancelledError:
        ...         pass
        ...     return dog.fired
        >>> asyncio.run(main())
        True
    """

    def __init__(self, task: asyncio.Future[Any], timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = task
        self._timeout = timeout
        # A timer that runs this late found the loop busy (a long callback, a huge frame):
        # that is not the server's silence, so the reader gets this much longer to read.
        self._grace = min(1.0, timeout / 4)
        self._deadline = self._loop.time() + timeout
        self._handle = self._loop.call_at(self._deadline, self._check)
        #: True once the deadline passed and the task was cancelled for it.
        self.fired = False

    def feed(self) -> None:
        """Push the deadline ``timeout`` seconds past now."""
        self._deadline = self._loop.time() + self._timeout

    def stop(self) -> None:
        """Never fire."""
        self._handle.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._deadline and now - self._handle.when() > self._grace:
            self._deadline = now + self._grace
        if now >= self._deadline:
            self.fired = True
            self._task.cancel("no message within the watchdog's timeout")
        else:
            self._handle = self._loop.call_at(self._deadline, self._check)
