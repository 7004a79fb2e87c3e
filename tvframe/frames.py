"""Bars to DataFrames: tz-aware UTC time, float64 prices, ascending, symbol as a column.

The time column is microsecond precision in both backends (``datetime64[us, UTC]`` in pandas,
``Datetime("us", "UTC")`` in polars) so dtypes do not drift with library defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tvframe.errors import InvalidArgumentError
from tvframe.protocol.messages import Bars

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["BACKENDS", "COLUMNS", "Backend", "check_backend", "to_pandas", "to_polars"]

Backend = Literal["pandas", "polars"]
BACKENDS: tuple[str, ...] = ("pandas", "polars")
#: Column order of every bar frame (``time`` is the index in pandas).
COLUMNS: tuple[str, ...] = ("time", "symbol", "open", "high", "low", "close", "volume")


def check_backend(backend: str) -> Backend:
    """Validate a backend name.

    Example:
        >>> check_backend("polars")
        'polars'
    """
    if backend == "pandas":
        return "pandas"
    if backend == "polars":
        return "polars"
    raise InvalidArgumentError(f"backend={backend!r} is not one of {', '.join(BACKENDS)}")


def _micros(bars: Bars) -> np.ndarray:
    return np.round(bars.time * 1_000_000).astype("datetime64[us]")


def to_pandas(bars: Bars, symbol: str, attrs: dict[str, Any] | None = None) -> pd.DataFrame:
    """A pandas frame indexed by tz-aware UTC ``time``.

    Example:
        >>> to_pandas(Bars.empty(), "NASDAQ:AAPL").columns.tolist()
        ['symbol', 'open', 'high', 'low', 'close', 'volume']
    """
    import pandas as pd

    index = pd.DatetimeIndex(_micros(bars), name="time").tz_localize("UTC")
    frame: pd.DataFrame = pd.DataFrame(
        {
            "symbol": pd.Series([symbol] * len(bars), index=index, dtype="string"),
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=index,
    )
    if attrs:
        frame.attrs.update(attrs)
    return frame


def to_polars(bars: Bars, symbol: str) -> pl.DataFrame:
    """A polars frame with a tz-aware UTC ``time`` column first.

    Example:
        >>> to_polars(Bars.empty(), "NASDAQ:AAPL").columns
        ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume']
    """
    import polars as pl

    frame: pl.DataFrame = pl.DataFrame(
        {
            "time": pl.Series("time", _micros(bars)).dt.replace_time_zone("UTC"),
            "symbol": pl.Series("symbol", [symbol] * len(bars), dtype=pl.String),
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )
    return frame
