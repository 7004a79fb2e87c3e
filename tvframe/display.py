"""Throttled, change-driven refresh of a notebook display from tvframe's event loop.

Generic: it shows whatever ``render()`` returns and knows nothing of bars or quotes, so any live
object can use it. Refreshes run on the loop thread, never on the kernel's; they happen only
after :meth:`Refresher.notify` reported a change, and at most once per ``interval`` seconds.
IPython is imported only when :meth:`Refresher.show` needs its default ``display``; without
IPython nothing here runs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "DEFAULT_REFRESH",
    "DisplayFunction",
    "DisplayHandle",
    "Refresher",
    "Throttle",
    "ThrottledValue",
]

logger = logging.getLogger(__name__)

#: Seconds between two refreshes of a live display by default (at most 2 per second).
DEFAULT_REFRESH = 0.5

_T = TypeVar("_T")


class DisplayHandle(Protocol):
    """What ``IPython.display.display(obj, display_id=True)`` returns."""

    def update(self, obj: Any) -> None:
        """Replace the displayed output with ``obj``."""


#: ``IPython.display.display``-like: called as ``display(obj, display_id=True)``.
DisplayFunction = Callable[..., DisplayHandle]


class Throttle:
    """Lets one action through per ``interval`` seconds of ``clock``.

    Example:
        >>> now = [0.0]
        >>> throttle = Throttle(0.5, clock=lambda: now[0])
        >>> throttle.mark(); now[0] = 0.2
        >>> round(throttle.remaining(), 3)
        0.3
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last = -math.inf

    def remaining(self) -> float:
        """Seconds until the next action may run (0 when it may run now)."""
        return max(0.0, self._last + self.interval - self._clock())

    def mark(self) -> None:
        """An action ran now."""
        self._last = self._clock()


class ThrottledValue(Generic[_T]):
    """A cached ``compute()``, recomputed only for a new version and at most once per interval.

    Thread-safe. Serves ``_repr_html_``-style calls that may come faster than a render is worth.

    Example:
        >>> calls = []
        >>> value = ThrottledValue(lambda: len(calls.append(1) or calls), interval=60.0)
        >>> value.get(1), value.get(1), value.get(2)   # version 2 comes within the interval
        (1, 1, 1)
    """

    def __init__(
        self,
        compute: Callable[[], _T],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._throttle = Throttle(interval, clock)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._value: _T | None = None

    def get(self, version: int) -> _T:
        """The value for ``version``: cached unless it changed and the interval has passed."""
        with self._lock:
            stale = self._version != version and self._throttle.remaining() == 0
            if self._value is None or stale:
                self._value = self._compute()
                self._version = version
                self._throttle.mark()
            return self._value


def _ipython_display() -> DisplayFunction:
    from IPython.display import display

    return display


class Refresher:
    """Shows ``render()`` once, then keeps that output fresh from ``loop``.

    Args:
        render: makes the object to show (anything IPython can display); called on the loop
            thread for refreshes, so it must be thread-safe and quick.
        loop: the event loop the refreshes run on (tvframe's shared loop).
        interval: at least this many seconds between two refreshes.
        display: ``IPython.display.display`` by default; tests pass a fake.
        clock: the time source of the throttle.
        sleep: how the refresh task waits out the throttle.

    Example:
        >>> class Handle:
        ...     def update(self, obj: object) -> None:
        ...         print("now", obj)
        >>> async def demo() -> None:
        ...     refresher = Refresher(lambda: 42, asyncio.get_running_loop(), interval=0.0,
        ...                           display=lambda obj, display_id: Handle())
        ...     refresher.show(follow=False)
        ...     refresher.notify()
        ...     await refresher.close()           # a pending change is shown before closing
        >>> asyncio.run(demo())
        now 42
    """

    def __init__(
        self,
        render: Callable[[], object],
        loop: asyncio.AbstractEventLoop,
        *,
        interval: float = DEFAULT_REFRESH,
        display: DisplayFunction | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._render = render
        self._loop = loop
        self._display = display
        self._throttle = Throttle(interval, clock)
        self._sleep = sleep
        self._handle: DisplayHandle | None = None
        self._dirty = False
        self._closed = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Refreshes written to the display handle so far.
        self.updates = 0

    @property
    def running(self) -> bool:
        """True while the refresh task runs."""
        return self._task is not None and not self._task.done()

    def show(self, follow: bool = True) -> DisplayHandle:
        """Display ``render()`` now (from the calling thread) and, with ``follow``, start
        refreshing it from the loop."""
        display = self._display if self._display is not None else _ipython_display()
        handle = display(self._render(), display_id=True)
        self._handle = handle
        self._throttle.mark()
        if follow:
            self._call_on_loop(self._start)
        return handle

    def notify(self) -> None:
        """Something changed: refresh soon (throttled). Callable from any thread."""
        self._call_on_loop(self._mark_dirty)

    async def close(self) -> None:
        """Stop refreshing (on the loop); a change not shown yet is shown first, unthrottled."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        self._refresh()

    def _call_on_loop(self, action: Callable[[], None]) -> None:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            action()
            return
        try:
            self._loop.call_soon_threadsafe(action)
        except RuntimeError:
            logger.debug("the display loop is closed; refresh skipped")

    def _start(self) -> None:
        if not self._closed and self._task is None:
            self._task = self._loop.create_task(self._run(), name="tvframe-display-refresh")

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._throttle.remaining()
            if delay > 0:
                # Changes during the wait fold into this one refresh.
                await self._sleep(delay)
            self._refresh()

    def _refresh(self) -> None:
        if not self._dirty or self._handle is None:
            return
        self._dirty = False
        try:
            self._handle.update(self._render())
        except Exception:  # a broken display must not take the loop's other work down
            logger.exception("refreshing a live display failed")
            return
        self.updates += 1
        self._throttle.mark()
