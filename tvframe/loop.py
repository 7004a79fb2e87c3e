"""One background event-loop thread per process, for the sync facade.

Started lazily on the first sync call, stopped at interpreter exit. The caller's own event
loop (a Jupyter kernel's, say) is never touched: calls cross threads with
``asyncio.run_coroutine_threadsafe``. Ctrl-C while waiting cancels the pending call.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tvframe.errors import TvFrameError

__all__ = ["LoopThread", "add_cleanup", "run", "shared_loop"]

_T = TypeVar("_T")


class LoopThread:
    """A daemon thread running an asyncio loop until :meth:`stop`.

    Example:
        >>> async def two() -> int:
        ...     return 2
        >>> lt = LoopThread()
        >>> lt.run(two())
        2
        >>> lt.stop()
    """

    def __init__(self, name: str = "tvframe-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()
        # Let cancelled tasks run their cleanup before the loop closes.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the thread runs."""
        return self._loop

    @property
    def alive(self) -> bool:
        """True until stopped."""
        return self._thread.is_alive()

    def submit(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule a coroutine on the loop; returns a thread-safe future."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise TvFrameError(
                "a sync tvframe call was made from tvframe's own event-loop thread "
                "(inside a callback?); use the async API there (await tv.ahistory(...))"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the loop and block for its result; Ctrl-C cancels it."""
        future = self.submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (cancelling what runs on it) and join the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)


_shared: LoopThread | None = None
_shared_lock = threading.Lock()
_cleanups: list[Callable[[], Coroutine[Any, Any, None]]] = []


def add_cleanup(cleanup: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``cleanup()`` on the shared loop at interpreter exit, before the loop stops.

    Registering starts nothing; if the loop never started, cleanups never run.
    """
    _cleanups.append(cleanup)


def _stop_shared() -> None:
    with _shared_lock:
        lt = _shared
    if lt is None or not lt.alive:
        return
    for cleanup in _cleanups:
        try:
            lt.submit(cleanup()).result(timeout=5.0)
        except Exception:  # exit must go on: one failing cleanup cannot block the others
            logging.getLogger(__name__).debug("cleanup failed at exit", exc_info=True)
    lt.stop()


def shared_loop() -> LoopThread:
    """The process-wide loop thread, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            _shared = LoopThread()
        return _shared


atexit.register(_stop_shared)


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` on the shared loop thread and return its result."""
    return shared_loop().run(coro)
