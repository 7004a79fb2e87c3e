"""Live streams: many symbols' chart sessions and one quote session multiplexed on a Client.

Guarantees, across reconnects: every bar is delivered closed exactly once and in time order;
no duplicate, no gap the server can fill (after a reconnect the series is reloaded and, if
the reload does not reach back to the last bar seen, paged back with ``request_more_data``).

Slow consumers: closed bars are never dropped; an undelivered update of a forming bar (or of a
quote) is replaced by the newer one, so memory grows with closed bars only.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from tvframe.bars import BarRow, bar_rows, merge_bars, row_time
from tvframe.client import (
    ADJUSTMENTS,
    SERIES_ID,
    SESSIONS,
    Client,
    check_choice,
    check_n_bars,
    new_id,
    open_series_calls,
)
from tvframe.errors import (
    CriticalError,
    InvalidArgumentError,
    InvalidSymbolError,
    SeriesError,
    TvFrameError,
)
from tvframe.events import (
    Bar,
    BarUpdate,
    IndicatorUpdate,
    QuoteUpdate,
    Reconnected,
    StreamEvent,
    SymbolFailed,
)
from tvframe.intervals import Interval, parse_interval
from tvframe.lifecycle import AsyncClosing
from tvframe.models import SymbolInfo
from tvframe.protocol import (
    Bars,
    CriticalErrorEvent,
    DataUpdate,
    Event,
    QuoteCompleted,
    QuoteData,
    SeriesCompleted,
    SeriesErrorEvent,
    SymbolErrorEvent,
    SymbolResolved,
    TimescaleUpdate,
    symbol_descriptor,
)
from tvframe.quotes import QUOTE_FIELDS, quote_session_calls
from tvframe.studies import IndicatorLike, StreamStudies, check_indicators, resolve_indicators
from tvframe.symbols import Symbol, parse_symbols

__all__ = ["QUOTE_FIELDS", "Stream"]

logger = logging.getLogger(__name__)

# Bars asked for when a series is reloaded after a reconnect; paging covers longer outages.
_BACKFILL_BARS = 300


class _Buffer:
    """The stream's output queue with coalescing of forming-bar and quote updates."""

    def __init__(self) -> None:
        # A slot is [event, coalesce key or None]; pending maps a key to its undelivered slot.
        self._items: deque[list[Any]] = deque()
        self._pending: dict[tuple[str, ...], list[Any]] = {}
        self._ready = asyncio.Event()
        self._error: TvFrameError | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: StreamEvent, coalesce: tuple[str, ...] | None = None) -> None:
        if coalesce is not None:
            slot = self._pending.get(coalesce)
            if slot is not None:
                slot[0] = _coalesced(slot[0], event)
                return
            slot = [event, coalesce]
            self._pending[coalesce] = slot
        else:
            slot = [event, None]
        self._items.append(slot)
        self._ready.set()

    def seal(self, key: tuple[str, ...]) -> None:
        """Later updates of ``key`` must queue after what is queued now."""
        self._pending.pop(key, None)

    def fail(self, error: TvFrameError) -> None:
        if self._error is None:
            self._error = error
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def get(self) -> StreamEvent:
        while not self._items:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        event, key = self._items.popleft()
        if (
            key is not None
            and self._pending.get(key) is not None
            and self._pending[key][0] is event
        ):
            del self._pending[key]
        result: StreamEvent = event
        return result


def _coalesced(old: StreamEvent, new: StreamEvent) -> StreamEvent:
    if isinstance(old, QuoteUpdate) and isinstance(new, QuoteUpdate):
        return QuoteUpdate(new.symbol, new.quote, old.changed | new.changed)
    return new


class _SeriesRoute:
    """One symbol and interval on its own chart session; survives reconnects."""

    def __init__(self, stream: Stream, symbol: Symbol, interval: Interval, session: str) -> None:
        self.stream = stream
        self.symbol = symbol
        self.interval = interval
        self.session = session
        self.key = ("bar", symbol.full_name, interval.text)
        self.loading = True
        self.pending: list[Bars] = []
        self.live: list[TimescaleUpdate | DataUpdate] = []  # this frame's updates, not applied
        self.loaded = 0
        self.forming: Bar | None = None
        self.index = -1
        self.dead = False
        self.info: SymbolInfo | None = None
        self.studies = StreamStudies(
            session, symbol.full_name, interval.text,
            stream._indicators, stream._emit_bars, stream._fail,
        )  # fmt: skip
        # Without indicators a live update has nothing for the studies: they are skipped.
        self.has_studies = bool(stream._indicators)

    def create_calls(self, count: int) -> list[tuple[str, list[Any]]]:
        stream = self.stream
        return open_series_calls(
            self.session, self.symbol, self.interval.resolution, count,
            adjustment=stream.adjustment, symbol_session=stream.symbol_session,
        ) + self.studies.create_calls()  # fmt: skip

    # Route protocol

    def on_event(self, event: Event) -> None:
        if self.dead:
            return
        if isinstance(event, (TimescaleUpdate, DataUpdate)) and not self.loading:
            # A push may send its du newest first: the frame's updates are applied together,
            # once the client has dispatched the whole frame, so none is older than the forming
            # bar by then. The client dispatches a frame's events without yielding.
            if not self.live:
                self.stream._apply_soon(self)
            self.live.append(event)
            return
        self._apply_live()  # what came before this event, in order
        if isinstance(event, (TimescaleUpdate, DataUpdate)):
            self.pending += [s.bars for s in event.series if s.series_id == SERIES_ID]
        elif isinstance(event, SeriesCompleted) and event.series_id == SERIES_ID:
            if self.loading:
                self._finish_load()
        elif isinstance(event, SymbolResolved):
            self.info = SymbolInfo.from_server(event.info)
        elif isinstance(event, SymbolErrorEvent):
            self._die(
                InvalidSymbolError(
                    f"the server does not know symbol {self.symbol.full_name!r} ({event.reason})",
                    [self.symbol.full_name],
                )
            )
        elif isinstance(event, SeriesErrorEvent):
            self._die(SeriesError(f"{self.symbol} {self.interval}: {event.reason}"))
        elif isinstance(event, CriticalErrorEvent):
            self._die(
                CriticalError(f"{self.symbol} {self.interval}: {event.reason} ({event.info})")
            )
        if not self.dead:
            self.studies.on_event(event, self.loading)

    def on_lost(self, error: TvFrameError, reconnecting: bool) -> bool:
        self._apply_live()  # received before the drop: as final as they were
        if not reconnecting:
            self.stream._fail(error)
            return False
        if self.dead:
            return False
        self.loading = True
        self.pending = []
        self.loaded = 0
        self.studies.reset()
        return True

    def resubscribe(self) -> list[tuple[str, list[Any]]]:
        return self.create_calls(max(_BACKFILL_BARS, 2))

    def on_reconnected(self, attempt: int, reason: str) -> None:
        self.stream._reconnected(attempt, reason)

    # state

    def _die(self, error: TvFrameError) -> None:
        self.dead = True
        self.stream._series_failed(self, error)

    def _finish_load(self) -> None:
        merged = merge_bars(self.pending)
        anchor = self.forming.time if self.forming is not None else None
        grew = len(merged) > self.loaded
        if anchor is None and grew and len(merged) < self.stream._n_bars:
            # One load is capped per request (protocol.md §5): page back for the rest.
            self._page_back(len(merged), self.stream._n_bars - len(merged))
            return
        if anchor is not None and len(merged) and merged.time[0] > anchor:
            if grew:
                # The reload starts after the last bar we saw: page back to close the gap.
                self._page_back(len(merged), _BACKFILL_BARS)
                return
            logger.warning(
                "%s %s: the server has no bars between %s and %s; that gap cannot be filled",
                self.symbol, self.interval, anchor, merged.time[0],
            )  # fmt: skip
        self.loading = False
        self.pending = []
        self._apply(bar_rows([merged]))
        self.studies.settled()

    def _page_back(self, loaded: int, count: int) -> None:
        self.loaded = loaded
        self.stream._send_soon([("request_more_data", [self.session, SERIES_ID, count])])

    def _apply_live(self) -> None:
        """Apply the live updates held so far: bars in time order, then the studies."""
        events, self.live = self.live, []
        if self.dead or not events:
            return
        self._apply(
            bar_rows([s.bars for e in events for s in e.series if s.series_id == SERIES_ID])
        )
        if self.has_studies:
            for event in events:
                if not self.dead:
                    self.studies.on_event(event, False)

    def _apply(self, rows: Sequence[BarRow]) -> None:
        """Deliver time-sorted, de-duplicated bars: those before the last are final."""
        forming = self.forming
        start = 0 if forming is None else bisect_left(rows, forming.time, key=row_time)
        if start >= len(rows):
            return  # nothing as new as the forming bar
        events: list[BarUpdate] = []
        _, symbol, interval = self.key
        newest: Bar  # rows[start:] is not empty
        for row in rows[start:]:
            newest = Bar(*row)
            if forming is None or newest.time > forming.time:
                if forming is not None:
                    events.append(BarUpdate(symbol, interval, self.index, forming, True))
                self.index += 1
            forming = newest
        self.forming = newest
        self.stream._emit_bars(self.key, events, BarUpdate(symbol, interval, self.index,
                                                          newest, False))  # fmt: skip


class _QuoteRoute:
    """The stream's quote session: merges ``qsd`` diffs into one quote per symbol.

    Quote keys are §4 descriptors carrying the stream's session, as :func:`tvframe.quote`
    sends them. A symbol's first update waits for its ``quote_completed``: the server may
    split the first quote over several ``qsd`` (§9; HAR-tv shows four), and the first update
    holds all of them.
    """

    def __init__(self, stream: Stream, session: str, fields: Sequence[str]) -> None:
        self.stream = stream
        self.session = session
        self.fields = fields
        self.keys: dict[str, str] = {}  # quote key -> symbol name
        self.quotes: dict[str, dict[str, Any]] = {}
        self.completed: set[str] = set()

    def key(self, name: str) -> str:
        """The quote key of symbol ``name``."""
        return symbol_descriptor(name, session=self.stream.symbol_session)

    def add(self, names: Iterable[str]) -> list[str]:
        """Track ``names``; returns the keys of those that are new."""
        added: list[str] = []
        for name in names:
            key = self.key(name)
            if key not in self.keys:
                self.keys[key] = name
                added.append(key)
        return added

    def remove(self, name: str) -> str | None:
        """Stop tracking ``name``; returns its key, if it was tracked."""
        key = self.key(name)
        if self.keys.pop(key, None) is None:
            return None
        self.quotes.pop(key, None)
        self.completed.discard(key)
        return key

    def create_calls(self) -> list[tuple[str, list[Any]]]:
        return quote_session_calls(self.session, self.keys, self.fields)

    def on_event(self, event: Event) -> None:
        if not isinstance(event, (QuoteData, QuoteCompleted)) or event.key not in self.keys:
            return
        key = event.key
        if isinstance(event, QuoteCompleted):
            if key not in self.completed:
                self.completed.add(key)
                self._emit(key, frozenset(self.quotes.get(key, {})))
        elif event.status != "ok":
            name = self.keys.pop(key)
            reason = event.errmsg or event.status
            error = InvalidSymbolError(f"no quotes for {name!r}: {reason}", [name])
            self.stream._buffer.put(SymbolFailed(name, None, error))
        else:
            self.quotes.setdefault(key, {}).update(event.values)
            if key in self.completed:
                self._emit(key, frozenset(event.values))

    def _emit(self, key: str, changed: frozenset[str]) -> None:
        name = self.keys[key]
        quote = MappingProxyType(dict(self.quotes.get(key, {})))
        self.stream._buffer.put(QuoteUpdate(name, quote, changed), coalesce=("quote", name))

    def on_lost(self, error: TvFrameError, reconnecting: bool) -> bool:
        if not reconnecting:
            self.stream._fail(error)
        return reconnecting

    def resubscribe(self) -> list[tuple[str, list[Any]]]:
        return self.create_calls()

    def on_reconnected(self, attempt: int, reason: str) -> None:
        self.stream._reconnected(attempt, reason)


class Stream(AsyncClosing):
    """An async iterator of :class:`~tvframe.events.StreamEvent` for many symbols.

    Create it with :meth:`tvframe.Client.stream`. Bars arrive as
    :class:`~tvframe.events.BarUpdate` (the first ``n_bars - 1`` loaded bars closed, then the
    forming bar, then live changes), each indicator's values on a bar as
    :class:`~tvframe.events.IndicatorUpdate` (after the bar's), quotes as
    :class:`~tvframe.events.QuoteUpdate` (a symbol's first one holds its whole first quote),
    a symbol the server refuses as :class:`~tvframe.events.SymbolFailed` (the others go
    on), and a re-established socket as
    :class:`~tvframe.events.Reconnected`. With ``interval=None`` and ``quotes=True`` the stream
    has quotes only (``quote_fields`` of them), and no chart session.

    Example:
        >>> async def main(client: "Client") -> None:
        ...     async with client.stream(["NASDAQ:AAPL", "NYSE:IBM"], "1m") as stream:
        ...         async for event in stream:
        ...             print(event)
    """

    def __init__(
        self,
        client: Client,
        symbols: str | Symbol | Iterable[str | Symbol],
        interval: str | Interval | None,
        *,
        n_bars: int = 1,
        quotes: bool = False,
        quote_fields: Sequence[str] = QUOTE_FIELDS,
        adjustment: str = "splits",
        session: str = "regular",
        indicators: IndicatorLike | Sequence[IndicatorLike] = (),
    ) -> None:
        self._client = client
        self._symbols = parse_symbols(symbols)
        if interval is None and not quotes:
            raise InvalidArgumentError(
                "interval=None streams no bars: give an interval, or quotes=True for quotes only"
            )
        self._interval = None if interval is None else parse_interval(interval)
        self._indicators = check_indicators(indicators)
        if self._indicators and self._interval is None:
            raise InvalidArgumentError("indicators need bars: give an interval")
        self._n_bars = check_n_bars(n_bars)
        #: Price adjustment of every series: ``"splits"`` or ``"dividends"``.
        self.adjustment = check_choice("adjustment", adjustment, ADJUSTMENTS)
        #: Trading session of every series' symbol: ``"regular"`` or ``"extended"``.
        self.symbol_session = check_choice("session", session, SESSIONS)
        self._buffer = _Buffer()
        self._series: dict[tuple[str, str], _SeriesRoute] = {}
        self._quotes = _QuoteRoute(self, new_id("qs_"), quote_fields) if quotes else None
        self._started = False
        self._reconnects_seen = client.reconnects
        self._tasks: set[asyncio.Task[None]] = set()
        self._unapplied: list[_SeriesRoute] = []  # routes holding live updates of this frame

    async def __aenter__(self) -> Stream:
        await self.start()
        return self

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._buffer.get()

    @property
    def symbols(self) -> list[str]:
        """Symbols currently streamed (bars), in subscription order."""
        return [route.symbol.full_name for route in self._series.values() if not route.dead]

    @property
    def infos(self) -> Mapping[str, SymbolInfo]:
        """Each streamed symbol's server info (``symbol_resolved``), known before its first bar."""
        return {
            route.symbol.full_name: route.info
            for route in self._series.values()
            if route.info is not None and not route.dead
        }

    @property
    def backlog(self) -> int:
        """Events waiting for the consumer."""
        return len(self._buffer)

    async def start(self) -> None:
        """Create the sessions. Called by ``async with``; idempotent."""
        if self._started:
            return
        self._started = True
        calls: list[tuple[str, list[Any]]] = []
        if self._quotes is not None:
            self._quotes.add(s.full_name for s in self._symbols)
            self._client.add_route(self._quotes.session, self._quotes)
            calls += self._quotes.create_calls()
        client = self._client
        self._indicators = await resolve_indicators(self._indicators, client.url, client.timeout)
        calls += self._add_series(self._symbols, self._interval)
        await self._client.send(calls)

    def _add_series(
        self, symbols: Sequence[Symbol], interval: Interval | None
    ) -> list[tuple[str, list[Any]]]:
        calls: list[tuple[str, list[Any]]] = []
        if interval is None:  # a quotes-only stream
            return calls
        for symbol in symbols:
            key = (symbol.full_name, interval.text)
            if key in self._series and not self._series[key].dead:
                continue
            route = _SeriesRoute(self, symbol, interval, new_id("cs_"))
            self._series[key] = route
            self._client.add_route(route.session, route)
            calls += route.create_calls(self._n_bars)
        return calls

    async def subscribe(
        self, symbols: str | Symbol | Iterable[str | Symbol], interval: str | Interval | None = None
    ) -> None:
        """Add symbols while streaming (at this stream's interval unless given)."""
        parsed = parse_symbols(symbols)
        iv = self._interval if interval is None else parse_interval(interval)
        calls = self._add_series(parsed, iv)
        if self._quotes is not None:
            new = self._quotes.add(s.full_name for s in parsed)
            if new:
                calls.append(("quote_add_symbols", [self._quotes.session, *new]))
        if calls:
            await self._client.send(calls)

    async def unsubscribe(
        self, symbols: str | Symbol | Iterable[str | Symbol], interval: str | Interval | None = None
    ) -> None:
        """Stop streaming symbols; their sessions are deleted on the server."""
        parsed = parse_symbols(symbols)
        iv = self._interval if interval is None else parse_interval(interval)
        calls: list[tuple[str, list[Any]]] = []
        for symbol in parsed:
            route = None if iv is None else self._series.pop((symbol.full_name, iv.text), None)
            if route is not None:
                route.dead = True
                self._client.remove_route(route.session)
                calls.append(("chart_delete_session", [route.session]))
            if self._quotes is not None:
                key = self._quotes.remove(symbol.full_name)
                if key is not None:
                    calls.append(("quote_remove_symbols", [self._quotes.session, key]))
        if calls and self._client.is_open:
            await self._client.send(calls)

    async def close(self) -> None:
        """Delete every session and end the iteration; the client stays open."""
        sessions = [route.session for route in self._series.values()]
        if self._quotes is not None:
            sessions.append(self._quotes.session)
        calls: list[tuple[str, list[Any]]] = []
        for session in sessions:
            self._client.remove_route(session)
            calls.append(
                ("quote_delete_session" if session.startswith("qs_") else "chart_delete_session",
                 [session])
            )  # fmt: skip
        self._series.clear()
        for task in self._tasks:
            task.cancel()
        self._buffer.close()
        if calls and self._client.is_open:
            try:
                await self._client.send(calls)
            except TvFrameError as exc:
                logger.debug("could not delete sessions while closing: %s", exc)

    # called by routes

    def _emit_bars(
        self,
        key: tuple[str, ...],
        closed: Sequence[BarUpdate | IndicatorUpdate],
        forming: BarUpdate | IndicatorUpdate,
    ) -> None:
        if closed:
            # An undelivered forming update stays ahead of the bars that close after it.
            self._buffer.seal(key)
        for event in closed:
            self._buffer.put(event)
        self._buffer.put(forming, coalesce=key)

    def _apply_soon(self, route: _SeriesRoute) -> None:
        """Apply ``route``'s live updates once the client has dispatched the whole frame.

        One callback for all the routes a frame touches, not one per route: a frame of a
        push holds a ``du`` for every series.
        """
        if not self._unapplied:
            asyncio.get_running_loop().call_soon(self._apply_frame)
        self._unapplied.append(route)

    def _apply_frame(self) -> None:
        routes, self._unapplied = self._unapplied, []
        for route in routes:
            route._apply_live()

    def _series_failed(self, route: _SeriesRoute, error: TvFrameError) -> None:
        self._client.remove_route(route.session)
        self._buffer.put(SymbolFailed(route.symbol.full_name, route.interval.text, error))

    def _send_soon(self, calls: list[tuple[str, list[Any]]]) -> None:
        task = asyncio.get_running_loop().create_task(self._client.send(calls))
        self._tasks.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("a paging request failed: %s", task.exception())

    def _fail(self, error: TvFrameError) -> None:
        self._buffer.fail(error)

    def _reconnected(self, attempt: int, reason: str) -> None:
        # Every route reports the same reconnect; the consumer hears of it once.
        if self._client.reconnects != self._reconnects_seen:
            self._reconnects_seen = self._client.reconnects
            self._buffer.put(Reconnected(attempt, reason))
