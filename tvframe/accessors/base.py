"""The body shared by the pandas accessor and the polars namespace: one delegator per method.

Rules of this module: every method hands the frame to a plain function (usable without the
accessor) and returns what it returns; nothing is cached, printed or mutated, so a frame
changed after ``df.tv`` was first read is seen as it is now.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tvframe import io
from tvframe.accessors.shape import inspect_frame, meta_of, symbol_info
from tvframe.join import ajoin_indicators, join_indicators
from tvframe.plot import plot as plot_frame
from tvframe.resample import resample as resample_frame

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from pydantic import SecretStr

    from tvframe.intervals import Interval
    from tvframe.meta import FrameMeta
    from tvframe.models import SymbolInfo
    from tvframe.studies import IndicatorLike

__all__ = ["TvBase"]

F = TypeVar("F", "pd.DataFrame", "pl.DataFrame")


class TvBase(Generic[F]):
    """``df.tv``: tvframe's view of an OHLCV frame (see :mod:`tvframe.accessors`).

    Raises:
        FrameShapeError: the frame is not an OHLCV frame (the missing columns are named).
    """

    def __init__(self, frame: F) -> None:
        inspect_frame(frame)
        self._frame: F = frame

    @property
    def meta(self) -> FrameMeta:
        """The frame's :class:`~tvframe.meta.FrameMeta`, or one read from the frame (never None).

        See :func:`tvframe.accessors.shape.meta_of`.

        Example:
            >>> import pandas as pd
            >>> from tvframe.accessors import register
            >>> register()
            >>> df = pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]},
            ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="Europe/Paris"))
            >>> df.tv.meta.tz, df.tv.meta.interval
            ('Europe/Paris', None)
        """
        return meta_of(self._frame)

    @property
    def info(self) -> SymbolInfo:
        """The :class:`~tvframe.models.SymbolInfo` of a one-symbol frame.

        Raises:
            InvalidArgumentError: the frame holds several symbols (named); read
                ``df.tv.meta.symbols`` instead.

        Example:
            >>> import pandas as pd
            >>> from tvframe.accessors import register
            >>> register()
            >>> df = pd.DataFrame({"symbol": ["FX:EURUSD"], "open": [1.1], "high": [1.2],
            ...                    "low": [1.0], "close": [1.1]},
            ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
            >>> df.tv.info.symbol
            'FX:EURUSD'
        """
        return symbol_info(self._frame)

    def resample(self, interval: str | Interval) -> F:
        """Bars of a longer ``interval`` (``"1h"``, ``"1d"``, ``"1w"`` …), per symbol.

        See :func:`tvframe.resample.resample` for the binning rules.

        Example:
            >>> import pandas as pd
            >>> from tvframe.accessors import register
            >>> register()
            >>> times = pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 09:45"], tz="UTC")
            >>> df = pd.DataFrame({"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.0],
            ...                    "close": [1.5, 2.5], "volume": [5.0, 7.0]}, index=times)
            >>> df.tv.resample("1h")[["open", "close", "volume"]].values.tolist()
            [[1.0, 2.5, 12.0]]
        """
        return resample_frame(self._frame, interval)

    def to_parquet(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write a Parquet file that :func:`tvframe.io.read_parquet` reads back equal.

        With no path: ``export/ohlcv_{symbol}_{timeframe}_{timestamp}.parquet``.
        Returns the path written (see :func:`tvframe.io.to_parquet`).

        Example:
            >>> import pandas as pd, tempfile
            >>> from tvframe.accessors import register
            >>> register()
            >>> df = pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]},
            ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
            >>> io.read_parquet(df.tv.to_parquet(tempfile.mkdtemp())).equals(df)
            True
        """
        return io.to_parquet(self._frame, path)

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write a CSV file that :func:`tvframe.io.read_csv` reads back equal.

        With no path: ``export/ohlcv_{symbol}_{timeframe}_{timestamp}.csv``.
        Returns the path written (see :func:`tvframe.io.to_csv`).

        Example:
            >>> import pandas as pd, tempfile
            >>> from tvframe.accessors import register
            >>> register()
            >>> df = pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]},
            ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="Asia/Tokyo"))
            >>> io.read_csv(df.tv.to_csv(tempfile.mkdtemp())).index.tz
            zoneinfo.ZoneInfo(key='Asia/Tokyo')
        """
        return io.to_csv(self._frame, path)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write a JSON file that :func:`tvframe.io.read_json` reads back equal.

        With no path: ``export/ohlcv_{symbol}_{timeframe}_{timestamp}.json``.
        Returns the path written (see :func:`tvframe.io.to_json`).

        Example:
            >>> import pandas as pd, tempfile
            >>> from tvframe.accessors import register
            >>> register()
            >>> df = pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]},
            ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
            >>> df.tv.to_json(tempfile.mkdtemp()).name.startswith("ohlcv_unknown_unknown_")
            True
        """
        return io.to_json(self._frame, path)

    def join_indicator(
        self,
        *indicators: IndicatorLike,
        symbol: str | None = None,
        interval: str | Interval | None = None,
        url: str | None = None,
        token: str | SecretStr | None = None,
        timeout: float = 30.0,
        **inputs: Any,
    ) -> F:
        """A new frame with TradingView indicator columns (``rsi_14``, ``macd`` …) joined on time.

        See :func:`tvframe.join.join_indicators`; ``await df.tv.ajoin_indicator(...)`` is the
        async twin.

        Example:
            >>> def with_rsi(df: "pd.DataFrame") -> "pd.DataFrame":
            ...     return df.tv.join_indicator("RSI", length=14)
        """
        joined: F = join_indicators(
            self._frame, *indicators, symbol=symbol, interval=interval, url=url, token=token,
            timeout=timeout, **inputs,
        )  # fmt: skip
        return joined

    async def ajoin_indicator(
        self,
        *indicators: IndicatorLike,
        symbol: str | None = None,
        interval: str | Interval | None = None,
        url: str | None = None,
        token: str | SecretStr | None = None,
        timeout: float = 30.0,
        **inputs: Any,
    ) -> F:
        """Async twin of :meth:`join_indicator`."""
        joined: F = await ajoin_indicators(
            self._frame, *indicators, symbol=symbol, interval=interval, url=url, token=token,
            timeout=timeout, **inputs,
        )  # fmt: skip
        return joined

    def plot(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        symbol: str | None = None,
        volume: bool = True,
        title: str | None = None,
        ax: Axes | None = None,
    ) -> Figure:
        """A candlestick chart with volume and indicator panes (needs ``tvframe[plot]``).

        See :func:`tvframe.plot.plot`; ``path=`` also writes a PNG.

        Example:
            >>> import pandas as pd
            >>> from tvframe.accessors import register
            >>> register()
            >>> df = pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]},
            ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="UTC"))
            >>> df.tv.plot(title="one bar").axes[0].get_title()
            'one bar'
        """
        return plot_frame(self._frame, path, symbol=symbol, volume=volume, title=title, ax=ax)
