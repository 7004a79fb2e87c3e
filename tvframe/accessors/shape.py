"""What makes a frame an OHLCV frame, and a backend-neutral view of its bars.

Rules of this module:
- any pandas or polars frame qualifies, not only tvframe's: ``open``, ``high``, ``low`` and
  ``close`` columns (``volume`` optional) and a bar time — in pandas a ``DatetimeIndex``, a
  datetime index level named ``time`` or a datetime ``time`` column; in polars a ``Datetime``
  column named ``time``. A ``symbol`` column (or pandas index level) groups the bars.
- nothing here mutates a frame; the view holds copies as numpy arrays.
- a frame that does not qualify raises :class:`FrameShapeError` naming what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from tvframe.errors import FrameShapeError, InvalidArgumentError
from tvframe.meta import FrameMeta, frame_meta
from tvframe.models import SymbolInfo

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from typing_extensions import TypeIs

__all__ = [
    "OPTIONAL",
    "REQUIRED",
    "TICKS_PER_SECOND",
    "FrameShape",
    "OhlcvView",
    "inspect_frame",
    "is_pandas",
    "is_polars",
    "meta_of",
    "ohlcv_view",
    "pandas_times",
    "symbol_info",
    "symbols_in",
]

#: Columns every OHLCV frame has.
REQUIRED: tuple[str, ...] = ("open", "high", "low", "close")
#: Columns used when present.
OPTIONAL: tuple[str, ...] = ("volume",)
#: Ticks per second of each time unit pandas and polars use.
TICKS_PER_SECOND: dict[str, int] = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}

_NEEDS = (
    "an OHLCV frame needs open, high, low and close columns (volume optional) and the bar "
    "time: in pandas a DatetimeIndex, a datetime index level 'time' or a datetime 'time' "
    "column; in polars a Datetime column 'time'"
)


def is_pandas(frame: object) -> TypeIs[pd.DataFrame]:
    """True for a pandas DataFrame; checked by module so polars-only code never loads pandas."""
    return type(frame).__module__.startswith("pandas") and type(frame).__name__ == "DataFrame"


def is_polars(frame: object) -> TypeIs[pl.DataFrame]:
    """True for a polars DataFrame."""
    return type(frame).__module__.startswith("polars") and type(frame).__name__ == "DataFrame"


@dataclass(frozen=True)
class FrameShape:
    """Where an OHLCV frame keeps its parts.

    Attributes:
        backend: ``"pandas"`` or ``"polars"``.
        time: ``"index"`` (a DatetimeIndex), ``"level"`` (a MultiIndex level) or ``"column"``.
        time_name: the name of that index, level or column.
        symbol: ``"column"``, ``"level"`` or None when the frame has no symbol.
        volume: whether a ``volume`` column exists.
        extras: other numeric columns (indicator values), in frame order.
    """

    backend: Literal["pandas", "polars"]
    time: Literal["index", "level", "column"]
    time_name: str | None
    symbol: Literal["column", "level"] | None
    volume: bool
    extras: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class OhlcvView:
    """The bars of a frame as numpy arrays, in frame order.

    Attributes:
        time: ticks since the epoch in ``unit``; UTC instants for tz-aware times, wall
            times for naive ones.
        unit: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``.
        tz: the zone name of the time column, None for naive times.
        symbol: each row's symbol, None when the frame has none.
        values: ``open`` … ``close`` and ``volume`` when present, as float64 (missing = NaN).
        extras: the frame's other numeric columns, as float64.
    """

    time: npt.NDArray[np.int64]
    unit: str
    tz: str | None
    symbol: npt.NDArray[np.object_] | None
    values: dict[str, npt.NDArray[np.float64]]
    extras: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time)

    def take(self, rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> OhlcvView:
        """The view of the selected rows (positions or a mask)."""
        return OhlcvView(
            time=self.time[rows],
            unit=self.unit,
            tz=self.tz,
            symbol=None if self.symbol is None else self.symbol[rows],
            values={k: v[rows] for k, v in self.values.items()},
            extras={k: v[rows] for k, v in self.extras.items()},
        )


def _fail(missing: Sequence[str], detail: str = "") -> FrameShapeError:
    names = ", ".join(missing)
    return FrameShapeError(
        f"not an OHLCV frame: {detail or 'missing ' + names} ({_NEEDS})", missing
    )


def inspect_frame(frame: object) -> FrameShape:
    """Check that ``frame`` is an OHLCV frame and say where its parts are.

    Raises:
        FrameShapeError: naming every missing column (``time`` for the bar time).

    Example:
        >>> import pandas as pd
        >>> inspect_frame(pd.DataFrame({"open": [1.0], "close": [1.0]}))
        Traceback (most recent call last):
        ...
        tvframe.errors.FrameShapeError: not an OHLCV frame: missing high, low, time (...)
    """
    if is_pandas(frame):
        return _inspect_pandas(frame)
    if is_polars(frame):
        return _inspect_polars(frame)
    raise FrameShapeError(
        f"expected a pandas or polars DataFrame, got {type(frame).__name__}", ("time", *REQUIRED)
    )


def _check_columns(
    names: Sequence[str], numeric: dict[str, bool], time_found: bool
) -> tuple[str, ...]:
    """The extras; raises naming what is missing or not numeric."""
    missing = [c for c in REQUIRED if c not in numeric]
    if not time_found:
        missing.append("time")
    if missing:
        raise _fail(missing)
    wrong = [c for c in (*REQUIRED, *OPTIONAL) if c in numeric and not numeric[c]]
    if wrong:
        raise _fail(wrong, f"{', '.join(wrong)} must be numeric")
    used = {"time", "symbol", *REQUIRED, *OPTIONAL}
    return tuple(c for c in names if c not in used and numeric.get(c, False))


def _inspect_pandas(frame: pd.DataFrame) -> FrameShape:
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    index = frame.index
    time: Literal["index", "level", "column"] | None = None
    time_name: str | None = None
    levels = [str(n) for n in index.names] if isinstance(index, pd.MultiIndex) else []
    if isinstance(index, pd.DatetimeIndex):
        time, time_name = "index", None if index.name is None else str(index.name)
    elif "time" in levels and is_datetime64_any_dtype(index.get_level_values("time").dtype):
        time, time_name = "level", "time"
    elif "time" in frame.columns and is_datetime64_any_dtype(frame["time"].dtype):
        time, time_name = "column", "time"
    names = [str(c) for c in frame.columns]
    numeric = {
        str(c): is_numeric_dtype(t) and not is_bool_dtype(t)
        for c, t in frame.dtypes.items()
        if str(c) != "time"
    }
    extras = _check_columns(names, numeric, time is not None)
    assert time is not None  # _check_columns raised otherwise
    symbol: Literal["column", "level"] | None = None
    if "symbol" in frame.columns:
        symbol = "column"
    elif "symbol" in levels:
        symbol = "level"
    return FrameShape("pandas", time, time_name, symbol, "volume" in numeric, extras)


def _inspect_polars(frame: pl.DataFrame) -> FrameShape:
    import polars as pl

    schema = frame.schema
    time_found = isinstance(schema.get("time"), pl.Datetime)
    numeric = {name: dtype.is_numeric() for name, dtype in schema.items() if name != "time"}
    extras = _check_columns(list(schema.names()), numeric, time_found)
    symbol: Literal["column"] | None = "column" if "symbol" in schema else None
    return FrameShape("polars", "column", "time", symbol, "volume" in numeric, extras)


def _tz_name(tz: Any) -> str | None:
    """An IANA-style name for a pandas tz object (zoneinfo, pytz, datetime.timezone)."""
    if tz is None:
        return None
    return str(getattr(tz, "key", None) or getattr(tz, "zone", None) or tz)


def ohlcv_view(frame: pd.DataFrame | pl.DataFrame, shape: FrameShape | None = None) -> OhlcvView:
    """The bars of an OHLCV frame as numpy arrays (copies: the frame is left alone).

    Raises:
        FrameShapeError: not an OHLCV frame, or a bar without a time.

    Example:
        >>> import polars as pl
        >>> from datetime import datetime
        >>> df = pl.DataFrame({"time": [datetime(2024, 1, 2)], "open": [1], "high": [2],
        ...                    "low": [0], "close": [1]})
        >>> view = ohlcv_view(df)
        >>> view.unit, view.tz, view.values["high"].tolist()
        ('us', None, [2.0])
    """
    shape = shape or inspect_frame(frame)
    if is_pandas(frame):
        view = _pandas_view(frame, shape)
    elif is_polars(frame):
        view = _polars_view(frame, shape)
    else:  # inspect_frame accepted it, so this is a programming error
        raise TypeError(type(frame).__name__)
    return view


def pandas_times(frame: pd.DataFrame, shape: FrameShape) -> pd.DatetimeIndex:
    """The bar times of a pandas OHLCV frame, wherever the frame keeps them."""
    import pandas as pd

    source: Any = frame["time"] if shape.time == "column" else frame.index
    times: pd.DatetimeIndex = pd.DatetimeIndex(
        source.get_level_values("time") if shape.time == "level" else source
    )
    return times


def _checked_time(ticks: npt.NDArray[np.int64], nulls: int) -> npt.NDArray[np.int64]:
    if nulls:
        raise FrameShapeError(
            f"{nulls} bar(s) have no time; drop them first (e.g. df.dropna(subset=...))", ["time"]
        )
    return ticks


def _pandas_view(frame: pd.DataFrame, shape: FrameShape) -> OhlcvView:
    times = pandas_times(frame, shape)
    symbol = None
    if shape.symbol == "column":
        symbol = frame["symbol"].to_numpy(dtype=object)
    elif shape.symbol == "level":
        symbol = frame.index.get_level_values("symbol").to_numpy(dtype=object)

    def floats(name: str) -> npt.NDArray[np.float64]:
        return frame[name].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)

    return OhlcvView(
        time=_checked_time(
            np.array(times.asi8, dtype=np.int64), int(np.count_nonzero(times.isna()))
        ),
        unit=str(times.unit),
        tz=_tz_name(times.tz),
        symbol=symbol,
        values={c: floats(c) for c in (*REQUIRED, *OPTIONAL) if c in frame.columns},
        extras={c: floats(c) for c in shape.extras},
    )


def _polars_view(frame: pl.DataFrame, shape: FrameShape) -> OhlcvView:
    import polars as pl

    time = frame["time"]
    dtype = time.dtype
    assert isinstance(dtype, pl.Datetime)

    def floats(name: str) -> npt.NDArray[np.float64]:
        column = frame[name].cast(pl.Float64).fill_null(float("nan"))
        return np.array(column.to_numpy(), dtype=np.float64)

    symbol = None
    if shape.symbol is not None:
        symbol = np.array(frame["symbol"].cast(pl.String).to_list(), dtype=object)
    return OhlcvView(
        time=_checked_time(
            np.array(time.to_physical().fill_null(0).to_numpy(), dtype=np.int64), time.null_count()
        ),
        unit=dtype.time_unit,
        tz=dtype.time_zone,
        symbol=symbol,
        values={c: floats(c) for c in (*REQUIRED, *OPTIONAL) if c in frame.columns},
        extras={c: floats(c) for c in shape.extras},
    )


def symbols_in(frame: pd.DataFrame | pl.DataFrame) -> list[str]:
    """The distinct symbols of a frame's ``symbol`` column or index level, in order of first
    appearance; empty when it has none. Any frame is accepted.

    Example:
        >>> import polars as pl
        >>> symbols_in(pl.DataFrame({"symbol": ["B:Y", "A:X", "B:Y"]}))
        ['B:Y', 'A:X']
    """
    values: list[Any] = []
    if is_polars(frame):
        if "symbol" in frame.columns:
            values = frame["symbol"].unique(maintain_order=True).to_list()
    elif is_pandas(frame):
        if "symbol" in frame.columns:
            values = list(frame["symbol"].unique())
        elif "symbol" in frame.index.names:
            values = list(frame.index.get_level_values("symbol").unique())
    return [v for v in values if isinstance(v, str)]  # drops None, NaN and NA


def meta_of(frame: pd.DataFrame | pl.DataFrame) -> FrameMeta:
    """The frame's tvframe metadata, or metadata read from the frame itself — never None.

    Built metadata has ``interval=None``, the time column's zone (``"UTC"`` for naive times)
    and a bare :class:`SymbolInfo` for each symbol of the ``symbol`` column.

    Raises:
        FrameShapeError: a frame without metadata that is not an OHLCV frame.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"symbol": ["NASDAQ:AAPL"], "open": [1.0], "high": [1.0],
        ...                    "low": [1.0], "close": [1.0]},
        ...                   index=pd.DatetimeIndex(["2024-01-02"], tz="Asia/Tokyo", name="time"))
        >>> meta = meta_of(df)
        >>> meta.interval, meta.tz, list(meta.symbols)
        (None, 'Asia/Tokyo', ['NASDAQ:AAPL'])
    """
    attached = frame_meta(frame)
    if attached is not None:
        return attached
    shape = inspect_frame(frame)
    if shape.backend == "pandas" and is_pandas(frame):
        tz = _tz_name(pandas_times(frame, shape).tz)
    else:
        dtype = frame.schema["time"]
        tz = getattr(dtype, "time_zone", None)
    symbols = {name: SymbolInfo(symbol=name) for name in symbols_in(frame)}
    return FrameMeta(interval=None, tz=tz or "UTC", symbols=symbols)


def symbol_info(frame: pd.DataFrame | pl.DataFrame) -> SymbolInfo:
    """The :class:`SymbolInfo` of a one-symbol frame.

    The symbol is read from the frame's ``symbol`` column (or the metadata when the frame has
    no rows or no such column); its info comes from the metadata, or is a bare
    ``SymbolInfo(symbol=...)`` for frames tvframe did not make.

    Raises:
        InvalidArgumentError: the frame holds several symbols (they are named) or none.

    Example:
        >>> import polars as pl
        >>> from datetime import datetime
        >>> df = pl.DataFrame({"time": [datetime(2024, 1, 2)], "symbol": ["FX:EURUSD"],
        ...                    "open": [1.1], "high": [1.1], "low": [1.1], "close": [1.1]})
        >>> symbol_info(df).symbol
        'FX:EURUSD'
    """
    meta = meta_of(frame)
    present = symbols_in(frame) or list(meta.symbols)
    if len(present) > 1:
        raise InvalidArgumentError(
            f"the frame holds {len(present)} symbols ({', '.join(present)}); info is for "
            "one-symbol frames: use df.tv.meta.symbols[symbol] for each"
        )
    if not present:
        raise InvalidArgumentError(
            "the frame names no symbol (no 'symbol' column and no tvframe metadata)"
        )
    name = present[0]
    return meta.symbols.get(name) or SymbolInfo(symbol=name)
