"""Indicator columns joined onto any OHLCV frame: ``df.tv.join_indicator("RSI", length=14)``.

The study is computed by the server (TradingView, or the simulator) over the frame's own
symbol, interval and time span, fetched on the pooled connection: several indicators in one
call share one chart session per symbol. Values are joined on bar time; a row the server has
no value for is NaN (warm-up at the start of a symbol's history, or a row that is not a bar
of that interval). The frame is never mutated: a new frame is returned, metadata kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import SecretStr

from tvframe.accessors.shape import TICKS_PER_SECOND, is_polars, meta_of, ohlcv_view
from tvframe.client import Client, History
from tvframe.errors import InvalidArgumentError
from tvframe.indicators import IndicatorSpec, indicator
from tvframe.intervals import Interval, parse_interval
from tvframe.loop import shared_loop
from tvframe.meta import attach_meta, frame_meta
from tvframe.pool import on_shared_loop, with_client
from tvframe.studies import IndicatorLike, check_indicators
from tvframe.symbols import parse_symbol

if TYPE_CHECKING:
    pass

__all__ = ["ajoin_indicators", "indicator_specs", "join_indicators"]


def indicator_specs(
    indicators: Sequence[IndicatorLike], inputs: Mapping[str, Any]
) -> tuple[IndicatorSpec, ...]:
    """``("RSI",)`` with ``length=14``, or several names/specs without inputs.

    Example:
        >>> [s.columns for s in indicator_specs(["RSI"], {"length": 21})]
        [('rsi_21',)]
    """
    if not indicators:
        raise InvalidArgumentError("name at least one indicator, e.g. join_indicator('RSI')")
    if inputs:
        if len(indicators) != 1 or not isinstance(indicators[0], str):
            raise InvalidArgumentError(
                f"inputs {sorted(inputs)} go with one indicator name; for several, pass "
                "specs: join_indicator(tv.indicator('RSI', length=14), tv.indicator('MACD'))"
            )
        return check_indicators([indicator(indicators[0], **inputs)])
    return check_indicators(indicators)


def _plan(
    frame: Any, symbol: str | None, interval: str | Interval | None
) -> tuple[Interval, dict[str, npt.NDArray[np.float64]], npt.NDArray[np.object_]]:
    """The interval, each symbol's row times (epoch seconds) and each row's symbol."""
    meta = meta_of(frame)
    chosen = interval if interval is not None else meta.interval
    if chosen is None:
        raise InvalidArgumentError(
            "the frame does not say its interval (it was not made by tvframe): pass "
            "interval=, e.g. join_indicator('RSI', interval='1h')"
        )
    iv = parse_interval(chosen)
    view = ohlcv_view(frame)
    seconds = view.time.astype(np.float64) / TICKS_PER_SECOND[view.unit]
    if view.symbol is not None:
        rows = view.symbol
    else:
        names = [symbol] if symbol is not None else list(meta.symbols)
        if len(names) != 1:
            raise InvalidArgumentError(
                "the frame names no symbol (no 'symbol' column): pass symbol=, e.g. "
                "join_indicator('RSI', symbol='NASDAQ:AAPL')"
            )
        rows = np.full(len(seconds), parse_symbol(names[0]).full_name, dtype=object)
    times = {name: seconds[rows == name] for name in dict.fromkeys(rows.tolist())}
    return iv, times, rows


async def _fetch(
    client: Client,
    interval: Interval,
    times: Mapping[str, npt.NDArray[np.float64]],
    specs: tuple[IndicatorSpec, ...],
    timeout: float,
) -> dict[str, History]:
    async def one(name: str, span: npt.NDArray[np.float64]) -> tuple[str, History]:
        hist = await client.history(
            name, interval, start=float(span.min()), end=float(span.max()) + 1.0,
            indicators=specs, timeout=timeout,
        )  # fmt: skip
        return name, hist

    pairs = await asyncio.gather(*(one(n, t) for n, t in times.items() if len(t)))
    return dict(pairs)


def _aligned(
    rows: npt.NDArray[np.object_],
    seconds: Mapping[str, npt.NDArray[np.float64]],
    histories: Mapping[str, History],
    column: str,
) -> npt.NDArray[np.float64]:
    """``column`` for every frame row: the value of the bar at the row's time, else NaN."""
    out = np.full(len(rows), np.nan)
    for name, hist in histories.items():
        mine = np.flatnonzero(rows == name)
        bar_times = hist.bars.time
        at = np.searchsorted(bar_times, seconds[name])
        at_clipped = np.minimum(at, max(len(bar_times) - 1, 0))
        hit = (at < len(bar_times)) & (bar_times[at_clipped] == seconds[name])
        out[mine[hit]] = hist.indicator_columns[column][at_clipped[hit]]
    return out


def _with_columns(frame: Any, columns: dict[str, npt.NDArray[np.float64]]) -> Any:
    clash = [name for name in columns if name in frame.columns]
    if clash:
        raise InvalidArgumentError(
            f"the frame already has column(s) {', '.join(clash)}; drop them first or choose "
            "other inputs"
        )
    if is_polars(frame):
        import polars as pl

        joined = frame.with_columns([pl.Series(n, v, dtype=pl.Float64) for n, v in columns.items()])
        meta = frame_meta(frame)
        if meta is not None:
            attach_meta(joined, meta)
        return joined
    out = frame.copy()
    for name, values in columns.items():
        out[name] = values
    return out


async def _join(
    frame: Any,
    indicators: Sequence[IndicatorLike],
    inputs: Mapping[str, Any],
    symbol: str | None,
    interval: str | Interval | None,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> Any:
    specs = indicator_specs(indicators, inputs)
    iv, times, rows = _plan(frame, symbol, interval)
    histories = await with_client(
        url, token, timeout, lambda c: _fetch(c, iv, times, specs, timeout)
    )
    names = [column for spec in specs for column in spec.columns]
    if histories:  # Pine specs are named once resolved: take the names the server's gave
        names = list(next(iter(histories.values())).indicator_columns)
    return _with_columns(frame, {n: _aligned(rows, times, histories, n) for n in names})


async def ajoin_indicators(
    frame: Any,
    *indicators: IndicatorLike,
    symbol: str | None = None,
    interval: str | Interval | None = None,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
    **inputs: Any,
) -> Any:
    """Async twin of :func:`join_indicators`.

    Example:
        >>> async def main(df: "pd.DataFrame") -> None:
        ...     df = await ajoin_indicators(df, "RSI", length=14)
    """
    return await on_shared_loop(
        _join(frame, indicators, inputs, symbol, interval, url, token, timeout)
    )


def join_indicators(
    frame: Any,
    *indicators: IndicatorLike,
    symbol: str | None = None,
    interval: str | Interval | None = None,
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
    **inputs: Any,
) -> Any:
    """A new frame with the indicator(s) the server computes over the frame's bars as columns.

    Args:
        frame: a pandas or polars OHLCV frame (one or several symbols).
        *indicators: one catalogue name with its ``inputs`` (``"RSI", length=14``), or several
            names/specs (``tv.indicator("RSI", length=14), "MACD"``), fetched on one chart
            session per symbol.
        symbol: for a frame without a ``symbol`` column or tvframe metadata.
        interval: for a frame without tvframe metadata (tvframe's frames carry it).
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds any wait on the server may take.
        **inputs: the inputs of a single named indicator.

    Raises:
        InvalidArgumentError: bad indicator or inputs, unknown interval or symbol, a column
            that already exists (all before any network call).
        StudyError: the server refused the study (naming it and the reason).

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running():
        ...     df = tv.history("NASDAQ:AAPL", "1h", 100)
        ...     df = df.tv.join_indicator("RSI", length=14)
        >>> "rsi_14" in df.columns
        True
    """
    return shared_loop().run(
        _join(frame, indicators, inputs, symbol, interval, url, token, timeout)
    )
