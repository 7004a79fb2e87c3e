"""LiveQuotes: a quote table, one row per symbol, kept current by a live quote session.

Rules of this module:
- the quote session is a quotes-only :class:`~tvframe.stream.Stream`; starting, stopping,
  callbacks, ``updates()`` and the notebook display are :class:`~tvframe.livefeed.LiveFeed`'s;
- each symbol's quote is the stream's immutable merged mapping, swapped whole under the feed's
  lock: a snapshot never mixes two diffs of one symbol;
- frames are drawn by :func:`~tvframe.quotes.quotes_frame`, so they are typed exactly as
  :func:`tvframe.quote`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from tvframe.client import SESSIONS, Client, check_choice
from tvframe.display import DEFAULT_REFRESH
from tvframe.events import QuoteUpdate, StreamEvent
from tvframe.frames import Backend, check_backend
from tvframe.livefeed import ErrorCallback, LiveFeed
from tvframe.liveupdates import QUOTE_COALESCING
from tvframe.loop import shared_loop
from tvframe.meta import FrameMeta
from tvframe.pool import on_shared_loop
from tvframe.quotes import check_fields, quotes_frame, server_fields
from tvframe.stream import Stream
from tvframe.symbols import Symbol, parse_symbols

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["LiveQuotes", "alive_quotes", "live_quotes"]

#: A callback given a quote update (``on_update``).
QuoteCallback = Callable[[QuoteUpdate], object]


class LiveQuotes(LiveFeed[QuoteUpdate]):
    """A quote table that stays current: one row per symbol, updated as the server's diffs come.

    Make one with :func:`live_quotes` (or ``await`` :func:`alive_quotes`). :meth:`to_pandas`,
    :meth:`to_polars` and :meth:`frame` return a consistent snapshot from any thread, shaped
    exactly like :func:`tvframe.quote`'s frames (``symbol``, then the columns asked for; one
    row per symbol in the order asked), with :class:`~tvframe.meta.FrameMeta` attached.

    ``on_update`` is called with each :class:`~tvframe.events.QuoteUpdate` after the first
    full quote of its symbol, on tvframe's loop thread: it must not block. What it raises is
    logged and passed to ``on_error``; the feed goes on. ``on_error`` also hears of symbols the
    server refuses (they are in :attr:`failed`; the others go on) and of the error that ends
    the feed (:attr:`error`). Async code can iterate :meth:`updates` (one unread update per
    symbol at most, naming every field that changed). In a notebook, displaying the table
    refreshes it from the loop at most every ``refresh`` seconds, only when something changed.
    :meth:`stop` (or leaving a ``with`` / ``async with`` block, or the interpreter's exit) ends
    the feed; the table stays.

    Example:
        >>> import tvframe as tv
        >>> from tvframe.livequotes import live_quotes
        >>> pair = ["NASDAQ:AAPL", "BINANCE:BTCUSDT"]
        >>> with tv.sim.running() as sim, live_quotes(pair, ["last", "currency"]) as lq:
        ...     df = lq.to_pandas()
        >>> df["symbol"].tolist(), df["currency"].tolist(), lq.running
        (['NASDAQ:AAPL', 'BINANCE:BTCUSDT'], ['USD', 'USDT'], False)
    """

    _FIRST_DATA = "first quote"

    def __init__(
        self,
        symbols: str | Symbol | Iterable[str | Symbol],
        fields: str | Sequence[str] | None = None,
        *,
        backend: str = "pandas",
        session: str = "regular",
        on_update: QuoteCallback | None = None,
        on_error: ErrorCallback | None = None,
        refresh: float = DEFAULT_REFRESH,
        url: str | None = None,
        token: str | SecretStr | None = None,
        timeout: float = 30.0,
    ) -> None:
        # Everything is checked here, before the first byte is sent.
        names = [s.full_name for s in parse_symbols(symbols)]
        self._columns = check_fields(fields)
        chosen = check_backend(backend)
        self._session = check_choice("session", session, SESSIONS)
        super().__init__(
            names, backend=chosen, coalescing=QUOTE_COALESCING, on_update=on_update,
            on_error=on_error, refresh=refresh, url=url, token=token, timeout=timeout,
        )  # fmt: skip
        self._quotes: dict[str, Mapping[str, Any]] = {}

    def __len__(self) -> int:
        """Rows in the table now: the symbols with a quote."""
        with self._lock:
            return len(self._rows())

    @property
    def columns(self) -> list[str]:
        """The columns after ``symbol``, in order."""
        return list(self._columns)

    # --- snapshots -----------------------------------------------------------------------

    def _rows(self) -> dict[str, Mapping[str, Any]]:
        """Each streaming symbol's quote, in the order asked (under the lock)."""
        quotes, failed = self._quotes, self._failed
        return {s: quotes[s] for s in self._symbols if s in quotes and s not in failed}

    def _snapshot(self) -> tuple[dict[str, Mapping[str, Any]], FrameMeta]:
        with self._lock:
            rows = self._rows()
            failed = {s: str(error) for s, error in self._failed.items()}
        # The quotes are immutable mappings: the frame is built outside the lock.
        return rows, FrameMeta(None, failed=failed)

    def _frame(self, backend: Backend) -> pd.DataFrame | pl.DataFrame:
        rows, meta = self._snapshot()
        return quotes_frame(rows, backend, columns=self._columns, meta=meta)

    # --- the feed (loop thread) ----------------------------------------------------------

    def _new_stream(self, client: Client) -> Stream:
        return Stream(
            client, self._symbols, None, quotes=True,
            quote_fields=server_fields(self._columns), session=self._session,
        )  # fmt: skip

    def _arrived(self) -> Collection[str]:
        return self._quotes.keys()

    def _on_data(self, event: StreamEvent) -> None:
        if isinstance(event, QuoteUpdate):
            self._on_quote(event)

    def _on_quote(self, update: QuoteUpdate) -> None:
        with self._lock:
            # The stream's first update of a symbol is its full first quote, not a change.
            live = update.symbol in self._quotes
            self._quotes[update.symbol] = update.quote
            self._version += 1
        if live:
            self._publish(update)
            self._call(self._on_update, update)
        self._check_loaded()
        self._notify_displays()

    # --- notebooks -----------------------------------------------------------------------

    def _text(self) -> str:
        return f"<LiveQuotes {', '.join(self._symbols)} {self._state_text()}, {len(self)} quotes>"

    def _table_html(self) -> tuple[str, Collection[str]]:
        rows, meta = self._snapshot()
        if self._backend == "polars":
            frame = cast("pl.DataFrame", quotes_frame(rows, "polars", columns=self._columns))
            table = frame._repr_html_()
        else:
            pdf = cast("pd.DataFrame", quotes_frame(rows, "pandas", columns=self._columns))
            table = pdf.to_html(index=False)
        return table, list(meta.failed)


# --- construction ------------------------------------------------------------------------


async def _live_quotes(
    symbols: str | Symbol | Iterable[str | Symbol],
    fields: str | Sequence[str] | None,
    backend: str,
    session: str,
    on_update: QuoteCallback | None,
    on_error: ErrorCallback | None,
    refresh: float,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> LiveQuotes:
    # The constructor checks every argument, before the first byte is sent.
    table = LiveQuotes(
        symbols, fields, backend=backend, session=session, on_update=on_update,
        on_error=on_error, refresh=refresh, url=url, token=token, timeout=timeout,
    )  # fmt: skip
    return await table._open()


def live_quotes(
    symbols: str | Symbol | Iterable[str | Symbol],
    fields: str | Sequence[str] | None = None,
    *,
    backend: str = "pandas",
    session: str = "regular",
    on_update: QuoteCallback | None = None,
    on_error: ErrorCallback | None = None,
    refresh: float = DEFAULT_REFRESH,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> LiveQuotes:
    """A :class:`LiveQuotes` of ``symbols``: their current quotes, kept current.

    Returns once every symbol has its first full quote (symbols the server refuses are
    reported in ``lq.failed`` and through ``on_error``; the call raises only if all of them
    fail).

    Args:
        symbols: one ``EXCHANGE:SYMBOL`` or several.
        fields: column names of :data:`~tvframe.quotes.QUOTE_COLUMNS` and/or raw quote
            fields, as for :func:`tvframe.quote` (default: every ``QUOTE_COLUMNS`` name).
        backend: what :meth:`LiveQuotes.frame` returns: ``"pandas"`` or ``"polars"``.
        session: ``"regular"`` or ``"extended"``.
        on_update: called with every :class:`~tvframe.events.QuoteUpdate` after a symbol's
            first quote (loop thread).
        on_error: called with what a callback raised, a refused symbol's error, or the
            error that ended the feed.
        refresh: seconds between two refreshes of a notebook display.
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds any wait on the server may take, the first quotes included.

    Raises:
        InvalidSymbolError: a malformed symbol (before any network call), or every symbol
            refused by the server.
        InvalidArgumentError: ``fields``, ``backend``, ``session``, ``on_update``,
            ``on_error``, ``refresh`` or ``timeout`` out of range (before any network call).
        TvTimeoutError: a symbol's first quote did not arrive within ``timeout``.

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running() as sim:
        ...     with live_quotes(["BINANCE:BTCUSDT", "FX:GBPUSD"], "last") as lq:
        ...         df = lq.to_pandas()
        >>> df.columns.tolist(), len(df)
        (['symbol', 'last'], 2)
    """
    return shared_loop().run(
        _live_quotes(symbols, fields, backend, session, on_update, on_error, refresh, url,
                     token, timeout)
    )  # fmt: skip


async def alive_quotes(
    symbols: str | Symbol | Iterable[str | Symbol],
    fields: str | Sequence[str] | None = None,
    *,
    backend: str = "pandas",
    session: str = "regular",
    on_update: QuoteCallback | None = None,
    on_error: ErrorCallback | None = None,
    refresh: float = DEFAULT_REFRESH,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> LiveQuotes:
    """Async twin of :func:`live_quotes`, for code already inside an event loop (any loop).

    Example:
        >>> async def main() -> None:
        ...     async with await alive_quotes(["NASDAQ:AAPL", "NYSE:IBM"], "last") as lq:
        ...         async for update in lq.updates():
        ...             print(update.symbol, update.quote["lp"])
    """
    return await on_shared_loop(
        _live_quotes(symbols, fields, backend, session, on_update, on_error, refresh, url,
                     token, timeout)
    )  # fmt: skip
