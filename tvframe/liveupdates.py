"""The ``updates()`` async iterator of live feeds, and how it folds updates a reader is behind on.

Rules of this module:
- the feed (tvframe's loop thread) puts, one reader (any loop, any thread) takes; a lock
  guards the queue, and the reader's future is resolved on the reader's own loop;
- a reader that is behind never makes the feed wait: an unread update folds in a newer one of
  the same key (a symbol's bar, a symbol's indicator, a symbol's quote) when the
  :class:`Coalescing` policy allows, so memory grows only with updates that must not be lost
  (closed bars and their indicator values); past ``max_backlog`` the iterator ends itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeAlias, TypeVar

from tvframe.errors import InvalidArgumentError, TvFrameError
from tvframe.events import BarUpdate, IndicatorUpdate, QuoteUpdate

__all__ = [
    "BAR_COALESCING",
    "DEFAULT_MAX_BACKLOG",
    "FRAME_COALESCING",
    "QUOTE_COALESCING",
    "Coalescing",
    "FrameUpdate",
    "LiveUpdates",
    "SymbolUpdate",
    "check_max_backlog",
    "wake_future",
]

logger = logging.getLogger(__name__)

#: Updates one ``updates()`` iterator may hold unread before it gives up.
DEFAULT_MAX_BACKLOG = 10_000


class SymbolUpdate(Protocol):
    """An update about one symbol (:class:`~tvframe.events.BarUpdate`, ``IndicatorUpdate``,
    ``QuoteUpdate``)."""

    @property
    def symbol(self) -> str:
        """The ``EXCHANGE:SYMBOL`` the update is about."""


U = TypeVar("U", bound=SymbolUpdate)

#: What a LiveFrame delivers: its bars' updates, and its indicators' values on those bars.
FrameUpdate: TypeAlias = BarUpdate | IndicatorUpdate
_F = TypeVar("_F", bound=FrameUpdate)


def _resolve_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def wake_future(future: asyncio.Future[None]) -> None:
    """Resolve ``future`` from any thread, on its own loop.

    Example:
        >>> async def demo() -> bool:
        ...     future = asyncio.get_running_loop().create_future()
        ...     wake_future(future)
        ...     await future
        ...     return future.done()
        >>> asyncio.run(demo())
        True
    """
    try:
        future.get_loop().call_soon_threadsafe(_resolve_future, future)
    except RuntimeError:
        logger.debug("a waiter's event loop is closed; nobody is left to wake")


def _by_symbol(update: SymbolUpdate) -> Hashable:
    return update.symbol


@dataclass(frozen=True)
class Coalescing(Generic[U]):
    """How an unread update takes in a newer update of the same key.

    Attributes:
        merge: ``(unread, newer)`` -> the update that replaces the unread one in its place in
            the queue, or ``None`` when the newer one must queue behind it.
        holds: whether later updates may still fold into this one once it is queued.
        key: what updates fold by: only updates of one key ever fold together (default:
            the symbol).

    Example:
        >>> latest = Coalescing(merge=lambda old, new: new, holds=lambda update: True)
        >>> latest.merge("old", "new")
        'new'
    """

    merge: Callable[[U, U], U | None]
    holds: Callable[[U], bool]
    key: Callable[[U], Hashable] = _by_symbol


def _bar_time(update: FrameUpdate) -> float:
    return update.bar.time if isinstance(update, BarUpdate) else update.time


def _merge_forming(unread: _F, newer: _F) -> _F | None:
    # A closed update takes the unread forming one's place only if it closes that same bar.
    if newer.closed and _bar_time(newer) != _bar_time(unread):
        return None
    return newer


def _is_forming(update: FrameUpdate) -> bool:
    return not update.closed


def _frame_key(update: FrameUpdate) -> Hashable:
    if isinstance(update, IndicatorUpdate):
        return ("indicator", update.symbol, update.spec)
    return ("bar", update.symbol)


def _merge_quotes(unread: QuoteUpdate, newer: QuoteUpdate) -> QuoteUpdate:
    # The newer quote holds every field; what changed is what either diff changed.
    return QuoteUpdate(newer.symbol, newer.quote, unread.changed | newer.changed)


def _always(update: QuoteUpdate) -> bool:
    return True


#: Bars: a forming bar's unread update is replaced by the newer state of the same bar (or by
#: its close); closed bars are never folded, so none is ever dropped.
BAR_COALESCING: Coalescing[BarUpdate] = Coalescing(_merge_forming, _is_forming)
#: A LiveFrame's bars and indicator values: each folds as :data:`BAR_COALESCING` says, bars per
#: symbol and indicator values per (symbol, indicator), so a bar never folds into an indicator.
FRAME_COALESCING: Coalescing[FrameUpdate] = Coalescing(_merge_forming, _is_forming, _frame_key)
#: Quotes: one unread update per symbol, holding the newest quote and every field that changed.
QUOTE_COALESCING: Coalescing[QuoteUpdate] = Coalescing(_merge_quotes, _always)


def check_max_backlog(max_backlog: int) -> int:
    """Validate ``max_backlog``: a positive integer.

    Example:
        >>> check_max_backlog(50)
        50
    """
    if isinstance(max_backlog, bool) or not isinstance(max_backlog, int) or max_backlog < 1:
        raise InvalidArgumentError(f"max_backlog={max_backlog!r} must be a positive integer")
    return max_backlog


class LiveUpdates(Generic[U]):
    """Async iterator of a live feed's updates; made by ``LiveFrame.updates()`` or
    ``LiveQuotes.updates()``.

    Policy: a slow reader skips intermediate states only. An unread update is folded with a
    newer one of the same key as ``coalescing`` says: bars coalesce per (symbol, bar time)
    while the bar forms, and a closed bar is never dropped; a LiveFrame's indicator values
    likewise per (symbol, indicator, bar time), closed values never dropped; quotes coalesce
    per symbol, the folded update naming every field either one changed. An iterator more than
    ``max_backlog`` updates behind ends with :class:`~tvframe.errors.TvFrameError` (the feed
    still has every value). Iteration ends when the feed stops (raising its error, if it
    ended with one).

    Example:
        >>> async def follow(lf: "LiveFrame") -> None:
        ...     async for update in lf.updates():
        ...         if isinstance(update, BarUpdate):  # else an IndicatorUpdate
        ...             print(update.symbol, update.bar.close, update.closed)
    """

    def __init__(self, coalescing: Coalescing[U], max_backlog: int = DEFAULT_MAX_BACKLOG) -> None:
        self._coalescing = coalescing
        self._max_backlog = check_max_backlog(max_backlog)
        self._lock = threading.Lock()
        # A slot is a one-item list, so an unread update can be replaced in place.
        self._items: deque[list[U]] = deque()
        self._foldable: dict[Hashable, list[U]] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: Exception | None = None

    def __aiter__(self) -> LiveUpdates[U]:
        return self

    async def __anext__(self) -> U:
        while True:
            with self._lock:
                if self._items:
                    return self._pop()
                if self._ended:
                    if self._error is not None:
                        raise self._error
                    raise StopAsyncIteration
                waiter = asyncio.get_running_loop().create_future()
                self._waiter = waiter
            await waiter

    @property
    def backlog(self) -> int:
        """Updates waiting to be read."""
        with self._lock:
            return len(self._items)

    @property
    def closed(self) -> bool:
        """True once no more updates will be queued."""
        return self._ended

    def close(self) -> None:
        """Stop receiving; what is queued is discarded and the iteration ends."""
        with self._lock:
            self._items.clear()
            self._foldable.clear()
        self._end(None)

    def _pop(self) -> U:
        slot = self._items.popleft()
        update = slot[0]
        key = self._coalescing.key(update)
        if self._foldable.get(key) is slot:
            del self._foldable[key]
        return update

    def _put(self, update: U) -> None:
        """Queue ``update`` (feed side, loop thread)."""
        with self._lock:
            if self._ended or self._fold(update):
                return
            overflow = len(self._items) >= self._max_backlog
            if not overflow:
                slot = [update]
                self._items.append(slot)
                if self._coalescing.holds(update):
                    self._foldable[self._coalescing.key(update)] = slot
                self._wake()
        if overflow:
            self._end(
                TvFrameError(
                    f"updates() fell {self._max_backlog} updates behind and stopped; read "
                    "faster, raise max_backlog, or read the frame itself"
                )
            )

    def _fold(self, update: U) -> bool:
        """Fold ``update`` into the unread update of its key, if the policy allows."""
        key = self._coalescing.key(update)
        slot = self._foldable.get(key)
        if slot is None:
            return False
        merged = self._coalescing.merge(slot[0], update)
        if merged is None or not self._coalescing.holds(merged):
            # Later updates of the key queue behind this one.
            del self._foldable[key]
        if merged is None:
            return False
        slot[0] = merged
        return True

    def _end(self, error: Exception | None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            wake_future(waiter)
