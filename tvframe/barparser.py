"""The numbers of big bar arrays parsed on a worker thread, in batches, while the reader
reads on.

A 5 000-bar history answer's numbers take ~1.3 ms to parse (Arrow, with the GIL released):
the biggest share of a many-symbol history call. A :class:`~tvframe.client.Client` hands them
here and goes on reading and decoding the next answers on the loop thread.

A thread that wants the GIL back waits until the loop thread lets go of it, up to the 5 ms
switch interval while the loop runs Python. So the worker takes every array waiting at
once and parses them in one Arrow call (:func:`~tvframe.protocol.barscan.parse_texts`):
one such wait per batch, not per array. Batches grow by themselves when the worker falls
behind.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from tvframe.protocol.barscan import BarText, Columns, parse_texts

__all__ = ["BarParser"]

logger = logging.getLogger(__name__)

_Job = tuple[BarText, "asyncio.Future[Columns]"]
#: Longest the loop thread waits for an idle worker to take a job (it takes ~0.1 ms).
_HANDOVER_TIMEOUT = 0.005


class BarParser:
    """One worker thread parsing :class:`~tvframe.protocol.barscan.BarText` for one event
    loop; started at the first array, joined by :meth:`close`.

    Example:
        >>> async def main() -> None:
        ...     parser = BarParser(asyncio.get_running_loop())
        ...     text = BarText(0, 0, b",0,60.0,1,2,0.5,1.5,10\\n", 6, 1)
        ...     columns = await parser.parse(text)
        ...     parser.close()
        ...     print(columns[5].tolist())
        >>> asyncio.run(main())
        [1.5]
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Set by the worker once it has taken the jobs waiting for it (it holds the GIL then).
        self._taken = threading.Event()
        self._idle = True

    def parse(self, text: BarText) -> asyncio.Future[Columns]:
        """A future of ``text.parse()``, settled on the loop; call it on the loop's thread."""
        future: asyncio.Future[Columns] = self._loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tvframe-parse", daemon=True)
            self._thread.start()
        self._taken.clear()
        self._jobs.put((text, future))
        if self._idle:
            # Waiting here lets go of the GIL until the worker has the jobs and is off into
            # Arrow; otherwise it would wait up to a switch interval to wake up.
            self._taken.wait(_HANDOVER_TIMEOUT)
        return future

    def close(self) -> None:
        """Stop the worker once the arrays handed over so far are parsed, and join it."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while self._next_batch():
            pass

    def _next_batch(self) -> bool:
        """Wait for jobs and parse every one waiting; False once told to stop. (A function of
        its own: nothing holds a batch's text or columns while the worker waits.)"""
        self._idle = True
        first = self._jobs.get()
        self._idle = False
        if first is None:
            return False
        batch = [first]
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._parse_batch(batch)
                return False
            batch.append(job)
        self._taken.set()
        self._parse_batch(batch)
        return True

    def _parse_batch(self, batch: list[_Job]) -> None:
        try:
            outcome: list[Columns] | BaseException = parse_texts([text for text, _ in batch])
        except Exception as exc:  # handed to each waiter, who falls back to JSON
            outcome = exc
        try:
            self._loop.call_soon_threadsafe(_settle, [f for _, f in batch], outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            logger.debug("bar arrays parsed after their loop closed were dropped")


def _settle(futures: list[asyncio.Future[Columns]], outcome: list[Columns] | BaseException) -> None:
    for i, future in enumerate(futures):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome[i])
