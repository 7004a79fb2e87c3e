"""LiveFrame: a DataFrame that fills from history, then grows as bars form and close.

Rules of this module:
- only what is about bars (and the indicators computed on them) lives here; the feed itself
  (loop, callbacks, ``updates()``, display, stop) is :class:`~tvframe.livefeed.LiveFeed`'s;
- bars are stored in :class:`~tvframe.buffer.BarBuffer` columns, one per symbol, under the
  feed's one lock: no Python object per stored bar, never a torn row or a half-appended bar;
  indicator values are extra columns of the same buffer, written into the row of the bar
  they belong to (found by time), NaN on a new bar until its value comes;
- reconnects are the :class:`~tvframe.stream.Stream`'s business: it delivers every bar closed
  exactly once and in order, and every indicator's final values once per bar after it, so
  the frame has no gap and no duplicate across them.
"""

from __future__ import annotations

import asyncio
import math
import threading
import warnings
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from pydantic import SecretStr

from tvframe.buffer import BarBuffer
from tvframe.client import ADJUSTMENTS, SESSIONS, Client, check_choice, check_n_bars
from tvframe.display import DEFAULT_REFRESH
from tvframe.errors import (
    DataNotFoundError,
    InvalidArgumentError,
    ShortHistoryWarning,
    TvFrameError,
    TvTimeoutError,
)
from tvframe.events import BarUpdate, IndicatorUpdate, StreamEvent, SymbolFailed
from tvframe.frames import Backend, bars_frame, check_backend, check_tz, resolve_tz
from tvframe.indicators import IndicatorSpec
from tvframe.intervals import Interval, parse_interval
from tvframe.livefeed import ErrorCallback, LiveFeed, check_callback
from tvframe.liveupdates import (
    DEFAULT_MAX_BACKLOG,
    FRAME_COALESCING,
    FrameUpdate,
    LiveUpdates,
    wake_future,
)
from tvframe.loop import shared_loop
from tvframe.meta import FrameMeta
from tvframe.models import SymbolInfo
from tvframe.pool import on_shared_loop
from tvframe.protocol.events import Bars
from tvframe.studies import IndicatorLike, check_indicators, resolve_indicators
from tvframe.symbols import Symbol, parse_symbols

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    import polars as pl

    from tvframe.stream import Stream

__all__ = ["DEFAULT_MAX_BACKLOG", "FrameUpdate", "LiveFrame", "LiveUpdates", "alive", "live"]

#: A callback given a closed bar (``on_bar``).
BarCallback = Callable[[BarUpdate], object]
#: A callback given every update (``on_update``): bar updates and indicator values.
UpdateCallback = Callable[[FrameUpdate], object]

# Rows per symbol the notebook view shows (fewer per symbol when there are many).
_VIEW_ROWS = 10


@dataclass(eq=False)
class _Waiter:
    """A caller of :meth:`LiveFrame.wait` or :meth:`LiveFrame.await_bars`."""

    targets: dict[str, int]  # symbol -> closed-bar count to reach
    wake: Callable[[], None]
    satisfied: bool = field(default=False)


@dataclass(eq=False)
class _Progress:
    """How far one symbol's indicators are (touched under the frame's lock).

    A closed bar is counted (for :meth:`LiveFrame.wait`) once every indicator has delivered
    its final values up to that bar's time.
    """

    loading: set[IndicatorSpec]  # indicators whose history values are not all in yet
    closed_upto: dict[IndicatorSpec, float]  # newest bar time with final values, by indicator
    uncounted: deque[float] = field(default_factory=deque)  # closed bars awaiting their values

    @classmethod
    def of(cls, specs: Iterable[IndicatorSpec]) -> _Progress:
        specs = tuple(specs)
        return cls(set(specs), dict.fromkeys(specs, -math.inf))

    def count(self) -> int:
        """Closed bars whose every indicator value is now final; they leave the waiting list."""
        upto = min(self.closed_upto.values(), default=math.inf)
        done = 0
        while self.uncounted and self.uncounted[0] <= upto:
            self.uncounted.popleft()
            done += 1
        return done


@dataclass(frozen=True)
class _Snapshot:
    """Every symbol's rows, bars and indicator columns, taken at one instant."""

    parts: list[tuple[str, Bars]]
    extra: list[dict[str, npt.NDArray[np.float64]]]
    meta: FrameMeta


class LiveFrame(LiveFeed[FrameUpdate]):
    """A DataFrame that grows live: history first, then every bar as it forms and closes.

    Make one with :func:`live` (or ``await`` :func:`alive`). The feed runs on tvframe's
    background loop; :meth:`to_pandas`, :meth:`to_polars` and :meth:`frame` return a consistent
    snapshot from any thread, shaped exactly like :func:`tvframe.history`'s frames (one symbol:
    indexed by ``time``; several: by ``(symbol, time)``; polars: ``time`` and ``symbol``
    columns), with :class:`~tvframe.meta.FrameMeta` attached. The forming bar is the last row of
    each symbol and changes in place; a closed bar is appended once. Reconnects are invisible.

    With ``indicators=``, each indicator's columns follow ``volume`` as in
    :func:`tvframe.history` (``rsi_14`` …), computed by the server: a row's values are its own
    bar's, NaN from the moment the bar appears until its first value comes; the forming bar's
    values change with it, and a closed bar's become final shortly after it closes.

    Callbacks (``on_update`` for every change, forming bars included, and for every
    :class:`~tvframe.events.IndicatorUpdate`, each after its bar's update; then ``on_bar`` for
    each closed bar) see live changes only, not the history fill, and run on tvframe's loop thread:
    they must not block, and a sync tvframe call inside one raises a clear error (use the
    async API there). What a callback raises is logged and passed to ``on_error``; the feed
    goes on. ``on_error`` also hears of symbols the server refuses (they are in
    :attr:`failed`; the others go on) and of the error that ends the feed (:attr:`error`).

    Scripts block with :meth:`wait` (``await`` :meth:`await_bars` in async code; when either
    returns, ``on_bar`` has run for those bars and their indicator values are final); async
    code can iterate :meth:`updates` (bar and indicator updates, as ``on_update`` gets). In a
    notebook, displaying the frame shows its newest rows and refreshes them from the loop at
    most every ``refresh`` seconds, only when something changed. :meth:`stop` (or leaving a
    ``with`` / ``async with`` block, or the interpreter's exit) ends the feed; the data stays.

    Example:
        >>> import tvframe as tv
        >>> from tvframe.liveframe import live
        >>> with tv.sim.running() as sim, live("BINANCE:BTCUSDT", "1m", 100,
        ...                                     indicators=["RSI"]) as lf:
        ...     _ = sim.advance(120)
        ...     lf.wait(bars=2, timeout=10)
        ...     df = lf.to_pandas()
        >>> len(df), df.columns[-1], lf.running
        (102, 'rsi_14', False)
    """

    _FIRST_DATA = "history"

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
        indicators: IndicatorLike | Sequence[IndicatorLike] = (),
        on_bar: BarCallback | None = None,
        on_update: UpdateCallback | None = None,
        on_error: ErrorCallback | None = None,
        refresh: float = DEFAULT_REFRESH,
        url: str | None = None,
        token: str | SecretStr | None = None,
        timeout: float = 30.0,
    ) -> None:
        # Everything is checked here, before the first byte is sent.
        self._multi = not isinstance(symbols, (str, Symbol))
        names = [s.full_name for s in parse_symbols(symbols)]
        self._interval = parse_interval(interval)
        self._n_bars = check_n_bars(n_bars)
        self._max_bars = _check_max_bars(max_bars, self._n_bars)
        chosen = check_backend(backend)
        self._tz = check_tz(tz)
        self._session = check_choice("session", session, SESSIONS)
        self._adjustment = check_choice("adjustment", adjustment, ADJUSTMENTS)
        # Pine specs get their columns when resolved, as the feed opens (_subscribe).
        self._specs = check_indicators(indicators)
        self._on_bar = check_callback("on_bar", on_bar)
        super().__init__(
            names, backend=chosen, coalescing=FRAME_COALESCING, on_update=on_update,
            on_error=on_error, refresh=refresh, url=url, token=token, timeout=timeout,
        )  # fmt: skip

        self._buffers = {
            s: BarBuffer(self._max_bars, capacity=_initial_capacity(self._n_bars), lock=self._lock)
            for s in self._symbols
        }
        # Closed bars per symbol whose indicator values are final (all of them, without any).
        self._closed_counts = dict.fromkeys(self._symbols, 0)
        self._progress = {s: _Progress.of(self._specs) for s in self._symbols}
        # Closed bars per symbol when the last wait returned (when its history was in, before).
        self._seen: dict[str, int] = {}
        # Rows each symbol's history brought, keyed by the symbols whose history is in.
        self._loaded_rows: dict[str, int] = {}
        self._infos: dict[str, SymbolInfo] = {}
        self._waiters: list[_Waiter] = []

    # --- public state --------------------------------------------------------------------

    def __len__(self) -> int:
        """Rows in the frame now (all symbols)."""
        with self._lock:
            return sum(len(b) for b in self._buffers.values())

    @property
    def interval(self) -> Interval:
        """The bar interval."""
        return self._interval

    # --- snapshots -----------------------------------------------------------------------

    def _frame(self, backend: Backend) -> pd.DataFrame | pl.DataFrame:
        snap = self._snapshot()
        return bars_frame(snap.parts, backend, meta=snap.meta, multi=self._multi,
                          tz=snap.meta.tz, extra=snap.extra)  # fmt: skip

    def _snapshot(self, last: int | None = None) -> _Snapshot:
        with self._lock:
            columns = {s: buffer.snapshot_columns(last) for s, buffer in self._buffers.items()}
            infos = {s: self._infos[s] for s in self._symbols if s in self._infos}
            failed = {s: str(error) for s, error in self._failed.items()}
        zone = resolve_tz(self._tz, infos)
        return _Snapshot(
            [(s, bars) for s, (bars, _) in columns.items()],
            [extra for _, extra in columns.values()],
            FrameMeta(self._interval.text, zone, infos, failed),
        )

    # --- waiting -------------------------------------------------------------------------

    def wait(self, bars: int = 1, timeout: float | None = None) -> None:
        """Block until ``bars`` bars closed, for every symbol still streaming, since the last
        wait returned (since the history fill, for the first one).

        Counting from the last return rather than from the call means a loop of ``wait()``
        and work never misses a bar that closed during the work. :meth:`await_bars` shares
        the count. With indicators, a bar counts once its indicator values are final too.

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
        waiter = self._add_waiter(bars, lambda: wake_future(future))
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

    # --- the feed (loop thread) ----------------------------------------------------------

    async def _subscribe(self, client: Client) -> Stream:
        # Resolved first, so that the frame's columns follow the order asked for, Pine
        # columns included, as in history.
        specs = await resolve_indicators(self._specs, client.url, client.timeout)
        with self._lock:
            self._specs = specs
            self._progress = {s: _Progress.of(specs) for s in self._symbols}
            for buffer in self._buffers.values():
                buffer.add_columns(column for spec in specs for column in spec.columns)
        return await super()._subscribe(client)

    def _new_stream(self, client: Client) -> Stream:
        return client.stream(
            self._symbols, self._interval, n_bars=self._n_bars,
            adjustment=self._adjustment, session=self._session, indicators=self._specs,
        )  # fmt: skip

    def _arrived(self) -> Collection[str]:
        return [s for s in self._loaded_rows if not self._progress[s].loading]

    def _loaded(self) -> None:
        with self._lock:
            infos = dict(self._infos)
            short = {s: n for s, n in self._loaded_rows.items() if n < self._n_bars}
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

    def _on_end(self) -> None:
        self._wake_waiters(ended=True)

    def _on_data(self, event: StreamEvent) -> None:
        if isinstance(event, BarUpdate):
            self._on_bar_update(event)
        elif isinstance(event, IndicatorUpdate):
            self._on_indicator_update(event)

    def _on_bar_update(self, update: BarUpdate) -> None:
        bar, symbol = update.bar, update.symbol
        with self._lock:
            buffer = self._buffers.get(symbol)
            if buffer is None:
                return
            buffer.upsert(bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume)
            live = symbol in self._loaded_rows
            if not (live or update.closed):
                # The stream's first forming bar ends the symbol's bars' history fill.
                self._loaded_rows[symbol] = len(buffer)
                self._note_arrival(symbol)
            self._remember_info(symbol)
            self._version += 1
        if live:
            self._deliver(update)
            if update.closed:
                self._call(self._on_bar, update)
        if update.closed:
            # Counted after the callbacks: when wait() returns, on_bar has seen those bars.
            with self._lock:
                self._progress[symbol].uncounted.append(bar.time)
            self._count_closed(symbol)
        self._check_loaded()
        self._notify_displays()

    def _on_indicator_update(self, update: IndicatorUpdate) -> None:
        symbol, spec = update.symbol, update.spec
        with self._lock:
            buffer = self._buffers.get(symbol)
            if buffer is None:
                return
            progress = self._progress[symbol]
            live = symbol in self._loaded_rows and spec not in progress.loading
            # Plots beyond the spec's known columns are kept, as history keeps them.
            buffer.add_columns(update.values)
            buffer.set_extra(update.time, update.values)
            if not update.closed:
                # The study's first forming value ends its history fill.
                progress.loading.discard(spec)
                self._note_arrival(symbol)
            self._version += 1
        if live:
            self._deliver(update)
        if update.closed:
            with self._lock:
                progress.closed_upto[spec] = update.time
            self._count_closed(symbol)
        self._check_loaded()
        self._notify_displays()

    def _deliver(self, update: FrameUpdate) -> None:
        self._publish(update)
        self._call(self._on_update, update)

    def _note_arrival(self, symbol: str) -> None:
        """Start the wait count of ``symbol`` once its whole history is in (lock held)."""
        if symbol not in self._seen and symbol in self._arrived():
            self._seen[symbol] = self._closed_counts[symbol]

    def _count_closed(self, symbol: str) -> None:
        with self._lock:
            counted = self._progress[symbol].count()
            self._closed_counts[symbol] += counted
        if counted:
            self._wake_waiters(ended=False)

    def _remember_info(self, symbol: str) -> None:
        if symbol not in self._infos and self._stream is not None:
            info = self._stream.infos.get(symbol)
            if info is not None:
                self._infos[symbol] = info

    def _on_symbol_failed(self, event: SymbolFailed) -> None:
        super()._on_symbol_failed(event)
        # Waits no longer count the symbol: they may be over now.
        self._wake_waiters(ended=False)

    # --- notebooks -----------------------------------------------------------------------

    def _text(self) -> str:
        return (
            f"<LiveFrame {', '.join(self._symbols)} {self._interval.text} {self._state_text()}, "
            f"{len(self)} rows>"
        )

    def _table_html(self) -> tuple[str, Collection[str]]:
        rows = max(2, _VIEW_ROWS // len(self._symbols))
        snap = self._snapshot(last=rows)
        frame = bars_frame(snap.parts, self._backend, multi=self._multi, tz=snap.meta.tz,
                           extra=snap.extra)  # fmt: skip
        if self._backend == "polars":
            table = cast("pl.DataFrame", frame)._repr_html_()
        else:
            table = cast("pd.DataFrame", frame).to_html()
        return table, list(snap.meta.failed)


# --- construction ------------------------------------------------------------------------


def _check_max_bars(max_bars: int | None, n_bars: int) -> int | None:
    if max_bars is None:
        return None
    if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < n_bars:
        raise InvalidArgumentError(
            f"max_bars={max_bars!r} must be an integer of at least n_bars ({n_bars}), or None"
        )
    return max_bars


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
    indicators: IndicatorLike | Sequence[IndicatorLike],
    on_bar: BarCallback | None,
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
        adjustment=adjustment, indicators=indicators, on_bar=on_bar, on_update=on_update,
        on_error=on_error, refresh=refresh, url=url, token=token, timeout=timeout,
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
    indicators: IndicatorLike | Sequence[IndicatorLike] = (),
    on_bar: BarCallback | None = None,
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
        indicators: TradingView studies the server computes on the same bars, as columns
            after ``volume``, exactly as in :func:`tvframe.history`: names at their defaults
            (``"RSI"``) or :func:`tvframe.indicator` specs; NaN on a bar until its value comes.
        on_bar: called with each closed :class:`~tvframe.events.BarUpdate` (loop thread).
        on_update: called with every update, forming bars included, and with each
            :class:`~tvframe.events.IndicatorUpdate` after its bar's update (loop thread).
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
            ``adjustment``, ``indicators``, ``refresh`` or ``timeout`` out of range (before any
            network call; a Pine spec's inputs are checked against its metadata before the
            series opens).
        StudyError: the server refused an indicator (naming it, its inputs and the reason).
        TvTimeoutError: the history (bars and indicator values) did not arrive within
            ``timeout``.

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
        _live(symbols, interval, n_bars, max_bars, backend, tz, session, adjustment, indicators,
              on_bar, on_update, on_error, refresh, url, token, timeout)
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
    indicators: IndicatorLike | Sequence[IndicatorLike] = (),
    on_bar: BarCallback | None = None,
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
        _live(symbols, interval, n_bars, max_bars, backend, tz, session, adjustment, indicators,
              on_bar, on_update, on_error, refresh, url, token, timeout)
    )  # fmt: skip
