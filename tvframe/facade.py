"""The sync API (``tv.history``) and its async twins (``await tv.ahistory``).

Every connection lives on the shared background loop (:mod:`tvframe.loop`), whichever API is
used, so one socket per endpoint and token is reused across calls (:mod:`tvframe.pool`). Each
sync function is a one-line delegator to its async twin's implementation, with the same
signature.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pydantic import SecretStr

from tvframe.client import ADJUSTMENTS, SESSIONS, Client, History, Window, check_choice
from tvframe.errors import TvFrameError
from tvframe.failures import check_errors, is_symbol_failure, report_failures
from tvframe.frames import bars_frame, check_backend, check_tz, resolve_tz
from tvframe.indicators import IndicatorSpec
from tvframe.intervals import Interval, parse_interval
from tvframe.loop import shared_loop
from tvframe.meta import FrameMeta
from tvframe.pool import on_shared_loop, with_client
from tvframe.progress import progress_bar
from tvframe.studies import IndicatorLike, check_indicators
from tvframe.symbols import Symbol, parse_symbols
from tvframe.times import TimeLike

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["MAX_CONCURRENT_SERIES", "ahistory", "history"]

#: Chart sessions one history call keeps open at once on its socket.
MAX_CONCURRENT_SERIES = 16


async def _fetch_all(
    client: Client,
    symbols: Sequence[Symbol],
    interval: Interval,
    n_bars: int | None,
    start: TimeLike | None,
    end: TimeLike | None,
    adjustment: str,
    session: str,
    indicators: tuple[IndicatorSpec, ...],
    progress: bool | None,
    timeout: float,
) -> tuple[list[History], dict[str, TvFrameError]]:
    """Every symbol's history over one socket, at most :data:`MAX_CONCURRENT_SERIES` at a time."""
    gate = asyncio.Semaphore(MAX_CONCURRENT_SERIES)
    bar = progress_bar(len(symbols), f"history {interval.text}", progress)
    failures: dict[str, TvFrameError] = {}

    async def one(symbol: Symbol) -> History | None:
        async with gate:
            try:
                return await client.history(
                    symbol,
                    interval,
                    n_bars,
                    start=start,
                    end=end,
                    adjustment=adjustment,
                    session=session,
                    indicators=indicators,
                    timeout=timeout,
                )
            except TvFrameError as exc:
                if not is_symbol_failure(exc):
                    raise
                failures[symbol.full_name] = exc
                return None
            finally:
                bar.update()

    try:
        results = await asyncio.gather(*(one(s) for s in symbols))
    finally:
        bar.close()
    ordered = {s.full_name: failures[s.full_name] for s in symbols if s.full_name in failures}
    return [h for h in results if h is not None], ordered


async def _history(
    symbols: str | Symbol | Iterable[str | Symbol],
    interval: str | Interval,
    n_bars: int | None,
    start: TimeLike | None,
    end: TimeLike | None,
    backend: str,
    tz: str,
    adjustment: str,
    session: str,
    indicators: IndicatorLike | Sequence[IndicatorLike],
    errors: str,
    progress: bool | None,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> pd.DataFrame | pl.DataFrame:
    # Everything the user gave is checked here, before the first byte is sent.
    many = not isinstance(symbols, (str, Symbol))
    parsed = parse_symbols(symbols)
    iv = parse_interval(interval)
    Window.of(iv, n_bars, start, end)
    chosen = check_backend(backend)
    check_tz(tz)
    check_choice("adjustment", adjustment, ADJUSTMENTS)
    check_choice("session", session, SESSIONS)
    check_errors(errors)
    specs = check_indicators(indicators)
    histories, failures = await with_client(
        url,
        token,
        timeout,
        lambda c: _fetch_all(
            c, parsed, iv, n_bars, start, end, adjustment, session, specs, progress, timeout
        ),
    )
    failed = report_failures(failures, errors, len(parsed))
    infos = {h.symbol.full_name: h.info for h in histories}
    zone = resolve_tz(tz, infos)
    meta = FrameMeta(iv.text, zone, infos, failed)
    parts = [(h.symbol.full_name, h.bars) for h in histories]
    extra = [h.indicator_columns for h in histories] if specs else ()
    return bars_frame(parts, chosen, meta=meta, multi=many, tz=zone, extra=extra)


async def ahistory(
    symbols: str | Symbol | Iterable[str | Symbol],
    interval: str | Interval,
    n_bars: int | None = None,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    backend: str = "pandas",
    tz: str = "UTC",
    adjustment: str = "splits",
    session: str = "regular",
    indicators: IndicatorLike | Sequence[IndicatorLike] = (),
    errors: str = "raise",
    progress: bool | None = None,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """Async twin of :func:`history`, for code already inside an event loop.

    Example:
        >>> async def main() -> None:
        ...     df = await ahistory(["NASDAQ:AAPL", "NASDAQ:MSFT"], "5m", 500)
    """
    return await on_shared_loop(
        _history(
            symbols,
            interval,
            n_bars,
            start,
            end,
            backend,
            tz,
            adjustment,
            session,
            indicators,
            errors,
            progress,
            url,
            token,
            timeout,
        )
    )


def history(
    symbols: str | Symbol | Iterable[str | Symbol],
    interval: str | Interval,
    n_bars: int | None = None,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    backend: str = "pandas",
    tz: str = "UTC",
    adjustment: str = "splits",
    session: str = "regular",
    indicators: IndicatorLike | Sequence[IndicatorLike] = (),
    errors: str = "raise",
    progress: bool | None = None,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """Bars of one or many symbols as one DataFrame.

    One symbol (a string) in pandas (default): indexed by tz-aware ``time``, columns
    ``symbol, open, high, low, close, volume`` (float64), ascending, no duplicate times. A list
    of symbols is fetched concurrently over one connection into one tidy frame indexed by
    ``(symbol, time)``, symbols in the order given. ``backend="polars"``: ``time`` and
    ``symbol`` columns first, either way. The last bar may still be forming. Metadata (each
    symbol's exchange, zone, currency, price scale, session; the interval; failures) is in
    ``df.attrs["tvframe"]`` (pandas) or ``df.tv.meta`` (both).

    Args:
        symbols: ``EXCHANGE:SYMBOL``, or several.
        interval: ``1m 5m 15m 30m 1h 2h 4h 1d 1w 1M`` (``m`` minute, ``M`` month) or ``<n><unit>``.
        n_bars: the latest ``n_bars`` bars (1 to 1 000 000; default 5 000 without ``start``).
        start: instead of ``n_bars``: every bar opening at or after this time.
        end: only bars opening before this time (default: up to now).
        backend: ``"pandas"`` or ``"polars"``.
        tz: zone of the time column: ``"UTC"``, ``"exchange"`` (the symbols' own) or an IANA name.
        adjustment: ``"splits"`` or ``"dividends"``.
        session: ``"regular"`` or ``"extended"`` (pre/post-market where the exchange has one).
        indicators: TradingView studies computed by the server over the same bars, joined as
            columns after ``volume``: names at their defaults (``"RSI"``) or
            :func:`tvframe.indicator` specs (``tv.indicator("MACD", fast=8)``); columns are
            named like ``rsi_14``, ``macd``/``macd_signal``/``macd_hist``. NaN where the server
            has no value (warm-up on the oldest bars of a symbol).
        errors: a symbol the server refuses: ``"raise"`` (after all are fetched), ``"warn"``
            (:class:`~tvframe.errors.SymbolsFailedWarning`; the frame holds the rest and the
            metadata lists the failures) or ``"ignore"`` (listed in the metadata only).
        progress: a progress bar over symbols; default: on a terminal or in a notebook.
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds any wait on the server may take.

    When the server has fewer bars than asked (plan caps, history depth), what exists is
    returned with a :class:`~tvframe.errors.ShortHistoryWarning` saying what is missing.

    Raises:
        InvalidSymbolError: malformed (before any network call) or unknown to the server.
        InvalidIntervalError: bad interval spelling (before any network call).
        InvalidArgumentError: any other argument out of range (before any network call).
        SymbolsError: several symbols failed for different reasons (``errors="raise"``).
        AuthError: the token was rejected.
        TvTimeoutError: the server stopped answering.

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running():
        ...     df = tv.history("NASDAQ:AAPL", "5m", 500)
        ...     many = tv.history(["NASDAQ:AAPL", "NYSE:IBM"], "1d", start="2026-10-01")
        >>> len(df), many.index.names
        (500, FrozenList(['symbol', 'time']))
    """
    return shared_loop().run(
        _history(
            symbols,
            interval,
            n_bars,
            start,
            end,
            backend,
            tz,
            adjustment,
            session,
            indicators,
            errors,
            progress,
            url,
            token,
            timeout,
        )
    )
