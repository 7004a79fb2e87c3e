"""LiveFrame: a DataFrame that fills from history, then grows as bars form and close.

Rules of this module:
- the feed runs on the shared loop thread (:mod:`tvframe.loop`) over the pooled client
  (:mod:`tvframe.pool`); it is the only writer. Readers on any thread copy a consistent
  snapshot under one lock: never a torn row, never a half-appended bar;
- bars are stored in :class:`~tvframe.buffer.BarBuffer` columns, one per symbol; no Python
  object per stored bar;
- user callbacks run on the loop thread; what they raise is logged and handed to
  ``on_error``, and never ends the feed;
- reconnects are the :class:`~tvframe.stream.Stream`'s business: it delivers every bar closed
  exactly once and in order, so the frame has no gap and no duplicate across them.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from pydantic import SecretStr

from tvframe.buffer import BarBuffer
from tvframe.client import (
    ADJUSTMENTS,
    SESSIONS,
    Client,
    ClientState,
    check_choice,
    check_n_bars,
    resolve_token,
    resolve_url,
)
from tvframe.display import (
    DEFAULT_REFRESH,
    DisplayFunction,
    DisplayHandle,
    Refresher,
    ThrottledValue,
)
from tvframe.errors import (
    DataNotFoundError,
    InvalidArgumentError,
    ShortHistoryWarning,
    TvFrameError,
    TvTimeoutError,
)
from tvframe.events import BarUpdate, Reconnected, StreamEvent, SymbolFailed
from tvframe.frames import Backend, bars_frame, check_backend, check_tz, resolve_tz
from tvframe.intervals import Interval, parse_interval
from tvframe.loop import LoopThread, add_cleanup, shared_loop
from tvframe.meta import FrameMeta
from tvframe.models import SymbolInfo
from tvframe.pool import on_shared_loop, with_client
from tvframe.protocol.messages import Bars
from tvframe.symbols import Symbol, parse_symbols

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from tvframe.stream import Stream

__all__ = ["DEFAULT_MAX_BACKLOG", "LiveFrame", "LiveUpdates", "alive", "live"]

logger = logging.getLogger(__name__)

#: A callback given a bar update (``on_bar``, ``on_update``).
UpdateCallback = Callable[[BarUpdate], object]
#: A callback given an error (``on_error``).
ErrorCallback = Callable[[Exception], object]
_C = TypeVar("_C", bound=Callable[..., object])

#: Updates one :meth:`LiveFrame.updates` iterator may hold unread before it gives up.
DEFAULT_MAX_BACKLOG = 10_000
# Rows per symbol the notebook view shows (fewer per symbol when there are many).
_VIEW_ROWS = 10
# Seconds stop() waits for the server to acknowledge deleted sessions.
_CLOSE_TIMEOUT = 5.0

# LiveFrames still running; stopped at interpreter exit. Touched only on the loop thread.
_running_frames: set[LiveFrame] = set()


async def _stop_all() -> None:
    for frame in list(_running_frames):
        await frame._stop()


add_cleanup(_stop_all)


def _resolve_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _wake_future(future: asyncio.Future[None]) -> None:
    """Resolve ``future`` from any thread, on its own loop."""
    try:
        future.get_loop().call_soon_threadsafe(_resolve_future, future)
    except RuntimeError:
        logger.debug("a waiter's event loop is closed; nobody is left to wake")


@dataclass(eq=False)
class _Waiter:
    """A caller of :meth:`LiveFrame.wait` or :meth:`LiveFrame.await_bars`."""

    targets: dict[str, int]  # symbol -> closed-bar count to reach
    wake: Callable[[], None]
    satisfied: bool = field(default=False)


class LiveUpdates:
    """Async iterator of a :class:`LiveFrame`'s bar updates; made by :meth:`LiveFrame.updates`.

    Policy: closed bars are never dropped; a forming-bar update not read yet is replaced by the
    newer one of the same symbol (a closed bar replaces the forming update of the same bar), so
    a slow reader skips intermediate ticks only. An iterator more than ``max_backlog`` updates
    behind ends with :class:`~tvframe.errors.TvFrameError` (the frame still has every bar).
    Iteration ends when the LiveFrame stops (raising its error, if it ended with one).

    Example:
        >>> async def follow(lf: "LiveFrame") -> None:
        ...     async for update in lf.updates():
        ...         print(update.symbol, update.bar.close, update.closed)
    """

    def __init__(self, max_backlog: int = DEFAULT_MAX_BACKLOG) -> None:
        self._max_backlog = max_backlog
        self._lock = threading.Lock()
        # A slot is a one-item list, so a pending forming update can be replaced in place.
        self._items: deque[list[BarUpdate]] = deque()
        self._forming: dict[str, list[BarUpdate]] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: Exception | None = None

    def __aiter__(self) -> LiveUpdates:
        return self

    async def __anext__(self) -> BarUpdate:
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
            self._forming.clear()
        self._end(None)

    def _pop(self) -> BarUpdate:
        slot = self._items.popleft()
        update = slot[0]
        if self._forming.get(update.symbol) is slot:
            del self._forming[update.symbol]
        return update

    def _put(self, update: BarUpdate) -> None:
        """Queue ``update`` (feed side, loop thread)."""
        with self._lock:
            if self._ended or self._coalesce(update):
                return
            overflow = len(self._items) >= self._max_backlog
            if not overflow:
                slot = [update]
                self._items.append(slot)
                if not update.closed:
                    self._forming[update.symbol] = slot
                self._wake()
        if overflow:
            self._end(
                TvFrameError(
                    f"updates() fell {self._max_backlog} updates behind and stopped; read "
                    "faster, raise max_backlog, or read the frame itself"
                )
            )

    def _coalesce(self, update: BarUpdate) -> bool:
        """Fold ``update`` into the symbol's unread forming update of the same bar, if any."""
        slot = self._forming.get(update.symbol)
        if slot is None:
            return False
        if update.closed:
            # The closed bar takes the unread forming update's place (and order) only if it is
            # that bar; either way later updates queue behind it.
            del self._forming[update.symbol]
            if slot[0].bar.time != update.bar.time:
                return False
        slot[0] = update
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
            _wake_future(waiter)


@dataclass(frozen=True)
class _View:
    """What a notebook shows: an HTML table and its plain-text fallback."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


class LiveFrame:
    """A DataFrame that grows live: history first, then every bar as it forms and closes.

    Make one with :func:`live` (or ``await`` :func:`alive`). The feed runs on tvframe's
    background loop; :meth:`to_pandas`, :meth:`to_polars` and :meth:`frame` return a consistent
    snapshot from any thread, shaped exactly like :func:`tvframe.history`'s frames (one symbol:
    indexed by ``time``; several: by ``(symbol, time)``; polars: ``time`` and ``symbol``
    columns), with :class:`~tvframe.meta.FrameMeta` attached. The forming bar is the last row of
    each symbol and changes in place; a closed bar is appended once. Reconnects are invisible.

    Callbacks (``on_update`` for every change, forming bars included, then ``on_bar`` for each
    closed bar) see live changes only, not the history fill, and run on tvframe's loop thread:
    they must not block, and a sync tvframe call inside one raises a clear error (use the
    async API there). What a callback raises is logged and passed to ``on_error``; the feed
    goes on. ``on_error`` also hears of symbols the server refuses (they are in
    :attr:`failed`; the others go on) and of the error that ends the feed (:attr:`error`).

    Scripts block with :meth:`wait` (``await`` :meth:`await_bars` in async code; when either
    returns, ``on_bar`` has run for those bars); async code can iterate :meth:`updates`. In a
    notebook, displaying the frame shows its newest rows and refreshes them from the loop at
    most every ``refresh`` seconds, only when something changed. :meth:`stop` (or leaving a
    ``with`` / ``async with`` block, or the interpreter's exit) ends the feed; the data stays.

    Example:
        >>> import tvframe as tv
        >>> from tvframe.liveframe import live
        >>> with tv.sim.running() as sim, live("BINANCE:BTCUSDT", "1m", 100) as lf:
        ...     _ = sim.advance(120)
        ...     lf.wait(bars=2, timeout=10)
        ...     df = lf.to_pandas()
        >>> len(df), lf.running
        (102, False)
    """

    def __init__(
        self,
        symbols: str | Symbol | Iterable[str | Symbol],
        interval: str | Interval,
        n_bars: int = 300,
        *,
        max_bars: int | None = None,
        backend: str = "pandas",
        tz: str = "UTC",
        session: str = "regular",
        adjustment: str = "splits",
        on_bar: UpdateCallback | None = None,
        on_update: UpdateCallback | None = None,
        on_error: ErrorCallback | None = None,
        refresh: float = DEFAULT_REFRESH,
        url: str | None = None,
        token: str | SecretStr | None = None,
        timeout: float = 30.0,
    ) -> None:
        # Everything is checked here, before the first byte is sent.
        self._multi = not isinstance(symbols, (str, Symbol))
        self._symbols = [s.full_name for s in parse_symbols(symbols)]
        self._interval = parse_interval(interval)
        self._n_bars = check_n_bars(n_bars)
        self._max_bars = _check_max_bars(max_bars, self._n_bars)
        self._backend: Backend = check_backend(backend)
        self._tz = check_tz(tz)
        self._session = check_choice("session", session, SESSIONS)
        self._adjustment = check_choice("adjustment", adjustment, ADJUSTMENTS)
        self._on_bar = _check_callback("on_bar", on_bar)
        self._on_update = _check_callback("on_update", on_update)
        self._on_error = _check_callback("on_error", on_error)
        self._refresh = _check_positive("refresh", refresh)
        self._timeout = _check_positive("timeout", timeout)
        self._url = resolve_url(url)
        self._token = resolve_token(token)

        # Shared by the feed (writer) and every reader; reentrant so one snapshot can span
        # the buffers of all symbols.
        self._lock = threading.RLock()
        self._buffers = {
            s: BarBuffer(self._max_bars, capacity=_initial_capacity(self._n_bars), lock=self._lock)
            for s in self._symbols
        }
        self._closed_counts = dict.fromkeys(self._symbols, 0)
        # Closed bars per symbol when the last wait returned (when its history was in, before).
        self._seen: dict[str, int] = {}
        # Rows each symbol's history brought, keyed by the symbols whose history is in.
        self._loaded: dict[str, int] = {}
        self._infos: dict[str, SymbolInfo] = {}
        self._failed: dict[str, TvFrameError] = {}
        self._version = 0
        self._waiters: list[_Waiter] = []
        self._queues: list[weakref.ref[LiveUpdates]] = []
        self._refreshers: list[Refresher] = []
        self._running = False
        self._error: Exception | None = None
        self._html = ThrottledValue(self._render_html, self._refresh)

        # Loop-thread state.
        self._home: LoopThread | None = None
        self._client: Client | None = None
        self._stream: Stream | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._stopper: asyncio.Task[None] | None = None
        self._load_done: asyncio.Event | None = None

    # --- public state --------------------------------------------------------------------

    def __repr__(self) -> str:
        return self._text()

    def __len__(self) -> int:
        """Rows in the frame now (all symbols)."""
        with self._lock:
            return sum(len(b) for b in self._buffers.values())

    @property
    def symbols(self) -> list[str]:
        """The symbols still streaming, in the order asked for."""
        with self._lock:
            return [s for s in self._symbols if s not in self._failed]

    @property
    def interval(self) -> Interval:
        """The bar interval."""
        return self._interval

    @property
    def failed(self) -> dict[str, TvFrameError]:
        """Symbols the server refused (or whose series died), with the reason."""
        with self._lock:
            return dict(self._failed)

    @property
    def running(self) -> bool:
        """True from the start until :meth:`stop` or the error that ends the feed."""
        return self._running

    @property
    def error(self) -> Exception | None:
        """The error that ended the feed, if one did."""
        return self._error

    @property
    def display_updates(self) -> int:
        """How many times notebook displays of this frame were refreshed."""
        with self._lock:
            return sum(r.updates for r in self._refreshers)

    # --- snapshots -----------------------------------------------------------------------

    def frame(self, backend: str | None = None) -> pd.DataFrame | pl.DataFrame:
        """A snapshot in ``backend`` (default: the one chosen at creation).

        Example:
            >>> def last_close(lf: LiveFrame) -> float:
            ...     return float(lf.frame()["close"].iloc[-1])
        """
        chosen = self._backend if backend is None else check_backend(backend)
        parts, meta = self._snapshot()
        return bars_frame(parts, chosen, meta=meta, multi=self._multi, tz=meta.tz)

    def to_pandas(self) -> pd.DataFrame:
        """A pandas snapshot, shaped as :func:`tvframe.history` shapes it.

        Example:
            >>> def closes(lf: LiveFrame) -> list[float]:
            ...     return lf.to_pandas()["close"].tolist()
        """
        parts, meta = self._snapshot()
        return bars_frame(parts, "pandas", meta=meta, multi=self._multi, tz=meta.tz)

    def to_polars(self) -> pl.DataFrame:
        """A polars snapshot (``time`` and ``symbol`` columns first).

        Example:
            >>> def height(lf: LiveFrame) -> int:
            ...     return lf.to_polars().height
        """
        parts, meta = self._snapshot()
        return bars_frame(parts, "polars", meta=meta, multi=self._multi, tz=meta.tz)

    def _snapshot(self, last: int | None = None) -> tuple[list[tuple[str, Bars]], FrameMeta]:
        with self._lock:
            parts = [(s, buffer.snapshot(last)) for s, buffer in self._buffers.items()]
            infos = {s: self._infos[s] for s in self._symbols if s in self._infos}
            failed = {s: str(error) for s, error in self._failed.items()}
        zone = resolve_tz(self._tz, infos)
        return parts, FrameMeta(self._interval.text, zone, infos, failed)

    # --- waiting -------------------------------------------------------------------------

    def wait(self, bars: int = 1, timeout: float | None = None) -> None:
        """Block until ``bars`` bars closed, for every symbol still streaming, since the last
        wait returned (since the history fill, for the first one).

        Counting from the last return rather than from the call means a loop of ``wait()``
        and work never misses a bar that closed during the work. :meth:`await_bars` shares
        the count.

        Raises:
            TvTimeoutError: not within ``timeout`` seconds.
            DataNotFoundError: the LiveFrame stopped first (or its :attr:`error`, if it
                ended with one).
            TvFrameError: called on tvframe's loop thread (inside a callback), where it
                would block the feed it waits for; use :meth:`await_bars` there.

        Example:
            >>> def on_each_bar(lf: LiveFrame) -> None:
            ...     while lf.running:
            ...         lf.wait(bars=1, timeout=120)
            ...         print(lf.to_pandas()["close"].iloc[-2])   # the bar that closed
        """
        if self._on_home_loop():
            raise TvFrameError(
                "LiveFrame.wait() was called from tvframe's own event-loop thread (inside a "
                "callback?), where it would block the feed; use 'await lf.await_bars(...)'"
            )
        ready = threading.Event()
        waiter = self._add_waiter(bars, ready.set)
        try:
            if not waiter.satisfied and not ready.wait(timeout):
                self._give_up(waiter, bars, timeout)
        finally:
            self._drop_waiter(waiter)
        self._settle(waiter, bars)

    async def await_bars(self, bars: int = 1, timeout: float | None = None) -> None:
        """Async twin of :meth:`wait`, for code inside an event loop (any loop).

        Example:
            >>> async def next_bar(lf: LiveFrame) -> None:
            ...     await lf.await_bars(1, timeout=120)
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = self._add_waiter(bars, lambda: _wake_future(future))
        try:
            if not waiter.satisfied:
                await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._give_up(waiter, bars, timeout)
        finally:
            self._drop_waiter(waiter)
        self._settle(waiter, bars)

    def _add_waiter(self, bars: int, wake: Callable[[], None]) -> _Waiter:
        """A waiter for ``bars`` more closed bars; already ``satisfied`` if they are in."""
        if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
            raise InvalidArgumentError(f"bars={bars!r} must be a positive integer")
        with self._lock:
            targets = {s: self._seen.get(s, 0) + bars for s in self.symbols}
            waiter = _Waiter(targets, wake, satisfied=self._reached(targets))
            if not waiter.satisfied:
                if not self._running:
                    raise self._ended_error(bars)
                self._waiters.append(waiter)
            return waiter

    def _drop_waiter(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _give_up(self, waiter: _Waiter, bars: int, timeout: float | None) -> None:
        """The wait timed out; raise unless the bars came in meanwhile."""
        with self._lock:
            if not waiter.satisfied:
                raise TvTimeoutError(
                    f"{bars} more bar(s) did not close within {timeout}s"
                ) from None

    def _settle(self, waiter: _Waiter, bars: int) -> None:
        """Move the wait count to now, or raise why the bars will never come."""
        with self._lock:
            if not waiter.satisfied:
                raise self._ended_error(bars)
            self._seen.update(self._closed_counts)

    def _ended_error(self, bars: int) -> Exception:
        if self._error is not None:
            return self._error
        return DataNotFoundError(f"the LiveFrame stopped before {bars} more bar(s) closed")

    def _reached(self, targets: dict[str, int]) -> bool:
        counts, failed = self._closed_counts, self._failed
        return all(counts[s] >= n for s, n in targets.items() if s not in failed)

    def _wake_waiters(self, ended: bool) -> None:
        """Wake the waiters that are satisfied (all of them when the feed ended)."""
        with self._lock:
            woken = []
            for waiter in self._waiters:
                waiter.satisfied = self._reached(waiter.targets)
                if waiter.satisfied or ended:
                    woken.append(waiter)
            self._waiters = [w for w in self._waiters if w not in woken]
        for waiter in woken:
            waiter.wake()

    # --- async iteration -----------------------------------------------------------------

    def updates(self, max_backlog: int = DEFAULT_MAX_BACKLOG) -> LiveUpdates:
        """Live bar updates as an async iterator (see :class:`LiveUpdates` for the policy).

        Example:
            >>> async def print_closes(lf: LiveFrame) -> None:
            ...     async for update in lf.updates():
            ...         if update.closed:
            ...             print(update.symbol, update.bar.close)
        """
        if isinstance(max_backlog, bool) or not isinstance(max_backlog, int) or max_backlog < 1:
            raise InvalidArgumentError(f"max_backlog={max_backlog!r} must be a positive integer")
        queue = LiveUpdates(max_backlog)
        with self._lock:
            if self._running:
                self._queues.append(weakref.ref(queue))
            else:
                queue._end(self._error)
        return queue

    def _publish(self, update: BarUpdate) -> None:
        with self._lock:
            queues = [q for q in (ref() for ref in self._queues) if q is not None and not q.closed]
            self._queues = [weakref.ref(q) for q in queues]
        for queue in queues:
            queue._put(update)

    # --- stopping ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop streaming (idempotent); the data stays readable.

        On tvframe's loop thread (inside a callback) the stop is scheduled, not awaited.
        """
        home = self._home
        if home is None or not home.alive:
            return
        if self._on_home_loop():
            self._begin_stop()
        else:
            home.run(self._stop())

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        if self._home is not None and self._home.alive:
            await on_shared_loop(self._stop())

    def __enter__(self) -> LiveFrame:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LiveFrame:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def _on_home_loop(self) -> bool:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._home is not None and running is self._home.loop

    async def _stop(self) -> None:
        await asyncio.shield(self._begin_stop())

    def _begin_stop(self) -> asyncio.Task[None]:
        if self._stopper is None:
            self._stopper = asyncio.get_running_loop().create_task(
                self._shutdown(), name="tvframe-live-stop"
            )
        return self._stopper

    async def _shutdown(self) -> None:
        consumer = self._consumer
        if consumer is not None and not consumer.done():
            consumer.cancel()
            await asyncio.wait([consumer])
        self._end(None)
        if self._stream is not None:
            try:
                await asyncio.wait_for(self._stream.close(), _CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                logger.debug("the server did not take the session deletes in time")
        with self._lock:
            refreshers = list(self._refreshers)
        for refresher in refreshers:
            await refresher.close()
        _running_frames.discard(self)

    def _end(self, error: Exception | None) -> None:
        """The feed is over: record why and release everyone waiting (idempotent)."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._error = error
            self._version += 1
            queues = [q for q in (ref() for ref in self._queues) if q is not None]
            self._queues = []
        if self._load_done is not None:
            self._load_done.set()
        self._wake_waiters(ended=True)
        for queue in queues:
            queue._end(error)
        self._notify_displays()

    # --- the feed (loop thread) ----------------------------------------------------------

    async def _open(self) -> LiveFrame:
        """Subscribe, wait for every symbol's history, start the feed; returns self."""
        self._home = shared_loop()
        self._load_done = asyncio.Event()
        try:
            self._stream = await with_client(self._url, self._token, self._timeout, self._subscribe)
            with self._lock:
                self._running = True
            _running_frames.add(self)
            self._consumer = asyncio.get_running_loop().create_task(
                self._consume(self._stream), name="tvframe-live-feed"
            )
            await self._await_load()
        except BaseException:
            await self._stop()
            raise
        return self

    async def _subscribe(self, client: Client) -> Stream:
        self._client = client
        stream = client.stream(
            self._symbols, self._interval, n_bars=self._n_bars,
            adjustment=self._adjustment, session=self._session,
        )  # fmt: skip
        await stream.start()
        return stream

    async def _await_load(self) -> None:
        assert self._load_done is not None
        try:
            await asyncio.wait_for(self._load_done.wait(), self._timeout)
        except asyncio.TimeoutError:
            with self._lock:
                missing = [
                    s for s in self._symbols if s not in self._loaded.keys() | self._failed.keys()
                ]
            raise TvTimeoutError(
                f"timed out after {self._timeout}s waiting for the history of {', '.join(missing)}"
            ) from None
        if not self._running:
            raise self._error or DataNotFoundError("the LiveFrame stopped before its history came")
        with self._lock:
            infos = dict(self._infos)
            short = {s: n for s, n in self._loaded.items() if n < self._n_bars}
        # tz="exchange" over symbols of several zones fails here rather than on every read.
        resolve_tz(self._tz, infos)
        if short:
            listing = ", ".join(f"{s} has {n}" for s, n in short.items())
            warnings.warn(
                ShortHistoryWarning(
                    f"asked for {self._n_bars} bars of history, but {listing} (the server "
                    "has no more, or sends fewer in one load); the frame grows from there"
                ),
                stacklevel=2,
            )

    async def _consume(self, stream: Stream) -> None:
        error: Exception | None = None
        try:
            async for event in stream:
                self._handle(event)
                if isinstance(event, SymbolFailed) and not self.symbols:
                    error = event.error  # every symbol failed: nothing is left to stream
                    break
        except TvFrameError as exc:
            if self._client is not None and self._client.state is ClientState.CLOSED:
                # The pooled client was closed on purpose (interpreter exit): a stop, not a
                # failure of the feed.
                logger.debug("the LiveFrame's client was closed; the feed stops")
            else:
                logger.warning("the LiveFrame feed of %s ended: %s", ", ".join(self._symbols), exc)
                error = exc
                self._report(exc)
        except Exception as exc:  # a bug must end the feed visibly, not kill it silently
            logger.exception("the LiveFrame feed failed")
            error = exc
            self._report(exc)
        self._end(error)
        self._begin_stop()

    def _handle(self, event: StreamEvent) -> None:
        if isinstance(event, BarUpdate):
            self._on_bar_update(event)
        elif isinstance(event, SymbolFailed):
            self._on_symbol_failed(event)
        elif isinstance(event, Reconnected):
            logger.info("LiveFrame feed reconnected (attempt %d): %s", event.attempt, event.reason)

    def _on_bar_update(self, update: BarUpdate) -> None:
        bar, symbol = update.bar, update.symbol
        with self._lock:
            buffer = self._buffers.get(symbol)
            if buffer is None:
                return
            buffer.upsert(bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume)
            live = symbol in self._loaded
            if not (live or update.closed):
                # The stream's first forming bar ends the symbol's history fill.
                self._loaded[symbol] = len(buffer)
                self._seen[symbol] = self._closed_counts[symbol]
            self._remember_info(symbol)
            self._version += 1
        if live:
            self._publish(update)
            self._call(self._on_update, update)
            if update.closed:
                self._call(self._on_bar, update)
        if update.closed:
            # Counted after the callbacks: when wait() returns, on_bar has seen those bars.
            with self._lock:
                self._closed_counts[symbol] += 1
            self._wake_waiters(ended=False)
        self._check_loaded()
        self._notify_displays()

    def _remember_info(self, symbol: str) -> None:
        if symbol not in self._infos and self._stream is not None:
            info = self._stream.infos.get(symbol)
            if info is not None:
                self._infos[symbol] = info

    def _on_symbol_failed(self, event: SymbolFailed) -> None:
        logger.warning("LiveFrame: %s failed and is dropped: %s", event.symbol, event.error)
        with self._lock:
            self._failed[event.symbol] = event.error
            self._version += 1
        self._report(event.error)
        self._wake_waiters(ended=False)
        self._check_loaded()
        self._notify_displays()

    def _check_loaded(self) -> None:
        if self._load_done is None or self._load_done.is_set():
            return
        with self._lock:
            settled = self._loaded.keys() | self._failed.keys()
        if settled.issuperset(self._symbols):
            self._load_done.set()

    def _call(self, callback: UpdateCallback | None, update: BarUpdate) -> None:
        if callback is None:
            return
        try:
            callback(update)
        except Exception as exc:
            logger.exception("a LiveFrame callback raised; the feed goes on")
            self._report(exc)

    def _report(self, error: Exception) -> None:
        if self._on_error is None:
            return
        try:
            self._on_error(error)
        except Exception:
            logger.exception("the LiveFrame on_error callback raised")

    # --- notebooks -----------------------------------------------------------------------

    def show(self, display: DisplayFunction | None = None) -> DisplayHandle:
        """Display the newest rows and keep them fresh while the feed runs.

        Refreshes come from tvframe's loop at most once per ``refresh`` seconds and only when
        something changed; the kernel is never blocked. ``display`` defaults to
        ``IPython.display.display``. Notebooks call this through ``_ipython_display_``.

        Example:
            >>> def show_in_notebook(lf: LiveFrame) -> None:
            ...     lf.show()          # what evaluating `lf` in a cell does
        """
        home = self._home if self._home is not None else shared_loop()
        refresher = Refresher(self._view, home.loop, interval=self._refresh, display=display)
        with self._lock:
            # Registered before it starts, so a stop that comes meanwhile still closes it.
            follow = self._running
            self._refreshers.append(refresher)
        try:
            return refresher.show(follow=follow)
        except BaseException:
            with self._lock:
                self._refreshers.remove(refresher)
            raise

    def _ipython_display_(self) -> None:
        self.show()

    def _repr_html_(self) -> str:
        with self._lock:
            version = self._version
        return self._html.get(version)

    def _notify_displays(self) -> None:
        with self._lock:
            refreshers = list(self._refreshers)
        for refresher in refreshers:
            refresher.notify()

    def _view(self) -> _View:
        return _View(self._render_html(), self._text())

    def _text(self) -> str:
        state = "running" if self._running else "stopped"
        return (
            f"<LiveFrame {', '.join(self._symbols)} {self._interval.text} {state}, "
            f"{len(self)} rows>"
        )

    def _render_html(self) -> str:
        rows = max(2, _VIEW_ROWS // len(self._symbols))
        parts, meta = self._snapshot(last=rows)
        if self._backend == "polars":
            table = bars_frame(parts, "polars", multi=self._multi, tz=meta.tz)._repr_html_()
        else:
            table = bars_frame(parts, "pandas", multi=self._multi, tz=meta.tz).to_html()
        failed = f" · failed: {html.escape(', '.join(meta.failed))}" if meta.failed else ""
        header = html.escape(self._text()) + failed
        updated = time.strftime("%H:%M:%S")
        return f"<div><small>{header} · shown {updated}</small>{table}</div>"


# --- construction ------------------------------------------------------------------------


def _check_max_bars(max_bars: int | None, n_bars: int) -> int | None:
    if max_bars is None:
        return None
    if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < n_bars:
        raise InvalidArgumentError(
            f"max_bars={max_bars!r} must be an integer of at least n_bars ({n_bars}), or None"
        )
    return max_bars


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name}={value!r} must be a positive number of seconds")
    return float(value)


def _check_callback(name: str, callback: _C | None) -> _C | None:
    if callback is not None and not callable(callback):
        raise InvalidArgumentError(f"{name}={callback!r} is not callable")
    return callback


def _initial_capacity(n_bars: int) -> int:
    # Room for the history and some live bars, without doubling a large history up front.
    return n_bars + 64


async def _live(
    symbols: str | Symbol | Iterable[str | Symbol],
    interval: str | Interval,
    n_bars: int,
    max_bars: int | None,
    backend: str,
    tz: str,
    session: str,
    adjustment: str,
    on_bar: UpdateCallback | None,
    on_update: UpdateCallback | None,
    on_error: ErrorCallback | None,
    refresh: float,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> LiveFrame:
    # The constructor checks every argument, before the first byte is sent.
    frame = LiveFrame(
        symbols, interval, n_bars, max_bars=max_bars, backend=backend, tz=tz, session=session,
        adjustment=adjustment, on_bar=on_bar, on_update=on_update, on_error=on_error,
        refresh=refresh, url=url, token=token, timeout=timeout,
    )  # fmt: skip
    return await frame._open()


def live(
    symbols: str | Symbol | Iterable[str | Symbol],
    interval: str | Interval,
    n_bars: int = 300,
    *,
    max_bars: int | None = None,
    backend: str = "pandas",
    tz: str = "UTC",
    session: str = "regular",
    adjustment: str = "splits",
    on_bar: UpdateCallback | None = None,
    on_update: UpdateCallback | None = None,
    on_error: ErrorCallback | None = None,
    refresh: float = DEFAULT_REFRESH,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> LiveFrame:
    """A :class:`LiveFrame` of ``symbols``: the latest ``n_bars`` bars, then every new one.

    Returns once every symbol's history is in (symbols the server refuses are reported in
    ``lf.failed`` and through ``on_error``; the call raises only if all of them fail).

    Args:
        symbols: one ``EXCHANGE:SYMBOL`` or several.
        interval: ``1m 5m 15m 30m 1h 2h 4h 1d 1w 1M`` or ``<n><unit>``.
        n_bars: bars of history per symbol, 1 to 1 000 000 (the server may cap one load).
        max_bars: keep only the newest ``max_bars`` bars per symbol (at least ``n_bars``);
            default: keep all.
        backend: what :meth:`LiveFrame.frame` returns: ``"pandas"`` or ``"polars"``.
        tz: ``"UTC"``, ``"exchange"`` or an IANA zone for the ``time`` column.
        session: ``"regular"`` or ``"extended"``.
        adjustment: ``"splits"`` or ``"dividends"``.
        on_bar: called with each closed :class:`~tvframe.events.BarUpdate` (loop thread).
        on_update: called with every update, forming bars included (loop thread).
        on_error: called with what a callback raised, a refused symbol's error, or the
            error that ended the feed.
        refresh: seconds between two refreshes of a notebook display.
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds any wait on the server may take, the history load included.

    Raises:
        InvalidSymbolError: a malformed symbol (before any network call), or every symbol
            refused by the server.
        InvalidIntervalError: bad interval spelling (before any network call).
        InvalidArgumentError: ``n_bars``, ``max_bars``, ``backend``, ``tz``, ``session``,
            ``adjustment``, ``refresh`` or ``timeout`` out of range (before any network call).
        TvTimeoutError: the history did not arrive within ``timeout``.

    Warns:
        ShortHistoryWarning: a symbol's history brought fewer than ``n_bars`` bars (the
            server has no more, or sends fewer in one load), naming how many came.

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running() as sim:
        ...     with live(["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"], "1m", 50) as lf:
        ...         _ = sim.advance(60)
        ...         lf.wait(bars=1, timeout=10)
        ...         df = lf.to_pandas()
        >>> df.index.names, len(df)
        (FrozenList(['symbol', 'time']), 102)
    """
    return shared_loop().run(
        _live(symbols, interval, n_bars, max_bars, backend, tz, session, adjustment, on_bar,
              on_update, on_error, refresh, url, token, timeout)
    )  # fmt: skip


async def alive(
    symbols: str | Symbol | Iterable[str | Symbol],
    interval: str | Interval,
    n_bars: int = 300,
    *,
    max_bars: int | None = None,
    backend: str = "pandas",
    tz: str = "UTC",
    session: str = "regular",
    adjustment: str = "splits",
    on_bar: UpdateCallback | None = None,
    on_update: UpdateCallback | None = None,
    on_error: ErrorCallback | None = None,
    refresh: float = DEFAULT_REFRESH,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> LiveFrame:
    """Async twin of :func:`live`, for code already inside an event loop (any loop).

    Example:
        >>> async def main() -> None:
        ...     async with await alive("BINANCE:BTCUSDT", "1m") as lf:
        ...         await lf.await_bars(1)
        ...         print(lf.to_pandas().tail(2))
    """
    return await on_shared_loop(
        _live(symbols, interval, n_bars, max_bars, backend, tz, session, adjustment, on_bar,
              on_update, on_error, refresh, url, token, timeout)
    )  # fmt: skip
