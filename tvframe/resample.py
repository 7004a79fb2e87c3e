"""Resample OHLCV bars to a longer interval, the same way for pandas and polars.

Rules of this module:
- aggregation is TradingView's: open = first, high = max, low = min, close = last,
  volume = sum, per symbol; missing values (NaN, polars null) are skipped, and a value of a
  bin stays NaN only when every input of the bin is missing (a bin of NaN volumes is NaN, not 0);
- a bin is labelled by its open (TradingView's bar time), is closed on the left, and exists
  only when it holds at least one bar: nights, weekends and holidays leave no rows;
- bins follow the wall clock of the time column's zone: intraday bins (``s``, ``m``, ``h``)
  are counted from each local midnight (an interval that does not divide a day leaves a short
  last bin before midnight), days are local calendar days, weeks start on Monday, months on
  the 1st (``3M`` = calendar quarters, ``12M`` = years). Convert the time column first
  (``tz="exchange"`` in :func:`tvframe.history`) to get exchange days rather than UTC days.
  On a day the clocks change, a bin keeps its wall-clock open: a missing open moves to the
  end of the gap, and a repeated one is read at the bar's own offset;
- the binning and aggregation are computed once, in numpy, for both backends; only building
  the result is backend-specific. The result has the input's shape (index, level or column
  time; symbol column or level) with float64 prices; other columns (indicator values, which
  depend on the interval) are dropped: compute them again on the resampled bars.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from tvframe.accessors.shape import (
    TICKS_PER_SECOND,
    FrameShape,
    OhlcvView,
    inspect_frame,
    is_pandas,
    meta_of,
    ohlcv_view,
    pandas_times,
)
from tvframe.errors import InvalidArgumentError
from tvframe.intervals import Interval, parse_interval
from tvframe.meta import attach_meta

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["bin_starts", "resample"]

logger = logging.getLogger(__name__)

F = TypeVar("F", "pd.DataFrame", "pl.DataFrame")
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_DAY = 86_400
_EPOCH_MONDAY = 4  # 1970-01-05, the first Monday after the epoch, is day 4


def resample(frame: F, interval: str | Interval) -> F:
    """Aggregate the bars of ``frame`` into bars of ``interval`` (see the module rules).

    Args:
        frame: an OHLCV frame (tvframe's, or any frame with open/high/low/close and a time).
        interval: a tvframe spelling such as ``"1h"``, ``"4h"``, ``"1d"``, ``"1w"``, ``"1M"``.

    Returns:
        A new frame of the same backend and shape, with metadata whose interval is ``interval``.

    Raises:
        InvalidIntervalError: the interval is not a tvframe spelling.
        InvalidArgumentError: the frame's bars are longer than ``interval``, or a pandas
            index has levels other than ``symbol`` and ``time``.
        FrameShapeError: not an OHLCV frame.

    Example:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-02 09:30", periods=4, freq="30min", tz="UTC")
        >>> df = pd.DataFrame({"open": [1.0, 2, 3, 4], "high": [2.0, 3, 4, 5],
        ...                    "low": [0.5, 1, 2, 3], "close": [2.0, 3, 4, 5],
        ...                    "volume": [10.0, 20, 30, 40]}, index=times.rename("time"))
        >>> hourly = resample(df, "1h")
        >>> hourly.index.strftime("%H:%M").tolist(), hourly["volume"].tolist()
        (['09:00', '10:00', '11:00'], [10.0, 50.0, 40.0])
    """
    target = parse_interval(interval)
    shape = inspect_frame(frame)
    meta = meta_of(frame)
    _check_not_finer(meta.interval, target)
    if is_pandas(frame):
        _check_levels(frame)
    view = ohlcv_view(frame, shape)
    times, symbols, values = _grouped(view, bin_starts(view.time, view.unit, view.tz, target))
    out: F
    if is_pandas(frame):
        out = _pandas_result(frame, shape, view, times, symbols, values)
    else:
        out = _polars_result(frame, times, symbols, values)
    attach_meta(out, replace(meta, interval=target.text))
    logger.debug("resampled %d bars to %d %s bars", len(view), len(times), target.text)
    return out


def _check_not_finer(current: str | None, target: Interval) -> None:
    if current is None:
        return
    source = parse_interval(current)
    if target.seconds < source.seconds:
        raise InvalidArgumentError(
            f"cannot resample {source.text} bars to {target.text}: bars can only be combined "
            f"into longer ones (fetch {target.text} bars instead)"
        )


def _check_levels(frame: pd.DataFrame) -> None:
    extra = [str(n) for n in frame.index.names if n not in ("symbol", "time")]
    if frame.index.nlevels > 1 and extra:
        raise InvalidArgumentError(
            f"resample groups bars by symbol only; the index levels {', '.join(extra)} "
            "would be merged: reset them to columns or select one group first"
        )


# --- binning ------------------------------------------------------------------------------


def bin_starts(ticks: I64, unit: str, tz: str | None, interval: Interval) -> I64:
    """The open of the bin of each time (the module rules), in the same ticks.

    Args:
        ticks: times since the epoch in ``unit``: UTC instants, or wall times when ``tz`` is None.
        unit: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``.
        tz: the zone whose wall clock the bins follow; None or ``"UTC"`` for UTC.
        interval: the bin length.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = int(datetime(2024, 3, 15, 15, 45, tzinfo=timezone.utc).timestamp())
        >>> [datetime.fromtimestamp(int(b), timezone.utc).strftime("%m-%d %H:%M")
        ...  for b in bin_starts(np.array([t]), "s", "America/New_York", parse_interval("1M"))]
        ['03-01 05:00']
    """
    per_second = TICKS_PER_SECOND[unit]
    offsets = _utc_offsets(ticks, unit, tz)
    wall = ticks + offsets
    floor = _wall_floor(wall, per_second, interval)
    if tz is None or tz == "UTC":
        return floor
    return _localize(floor, ticks, unit, tz)


def _utc_offsets(ticks: I64, unit: str, tz: str | None) -> I64:
    """Wall time minus UTC time for each instant, in ticks (zero for UTC and naive times)."""
    if tz is None or tz == "UTC" or len(ticks) == 0:
        return np.zeros_like(ticks)
    import pandas as pd

    instants = pd.DatetimeIndex(ticks.astype(f"datetime64[{unit}]")).tz_localize("UTC")
    wall = instants.tz_convert(tz).tz_localize(None)
    return np.asarray(wall.asi8, dtype=np.int64) - ticks


def _wall_floor(wall: I64, per_second: int, interval: Interval) -> I64:
    day = _DAY * per_second
    days = wall // day
    if interval.is_intraday:
        step = interval.seconds * per_second
        return wall - (wall - days * day) % step
    if interval.unit == "d":
        return (days - days % interval.count) * day
    if interval.unit == "w":
        weeks = (days - _EPOCH_MONDAY) // 7
        return ((weeks - weeks % interval.count) * 7 + _EPOCH_MONDAY) * day
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first = (months - months % interval.count).astype("datetime64[M]").astype("datetime64[D]")
    return first.astype(np.int64) * day


def _localize(floor: I64, ticks: I64, unit: str, tz: str) -> I64:
    """The instant of each wall-clock bin open, the latest one not after its bar.

    A wall time the clocks skip resolves to the end of the gap; one they repeat has two
    instants, and the bar's own offset picks the one the bar follows.
    """
    import pandas as pd

    walls = pd.DatetimeIndex(floor.astype(f"datetime64[{unit}]"))
    flags = np.ones(len(floor), dtype=bool)
    first = walls.tz_localize(tz, ambiguous=flags, nonexistent="shift_forward").asi8
    second = walls.tz_localize(tz, ambiguous=~flags, nonexistent="shift_forward").asi8
    early, late = np.minimum(first, second), np.maximum(first, second)
    labels: I64 = np.where(late <= ticks, late, early).astype(np.int64)
    return labels


# --- grouping and aggregation -------------------------------------------------------------


def _grouped(
    view: OhlcvView, bins: I64
) -> tuple[I64, npt.NDArray[np.object_] | None, dict[str, F64]]:
    """One row per (symbol, bin) in symbol then time order: its open, symbol and values."""
    codes, names = _symbol_codes(view)
    order = np.lexsort((view.time, bins, codes))
    starts = _group_starts(bins[order], codes[order])
    values = {name: _aggregate(name, column[order], starts) for name, column in view.values.items()}
    first_rows = order[starts]
    symbols = None if names is None else names[codes[first_rows]]
    return bins[first_rows], symbols, values


def _symbol_codes(view: OhlcvView) -> tuple[I64, npt.NDArray[np.object_] | None]:
    """Integer codes of the symbols, numbered in order of first appearance, and the names."""
    if view.symbol is None:
        return np.zeros(len(view), dtype=np.int64), None
    names, first, inverse = np.unique(
        view.symbol.astype(str), return_index=True, return_inverse=True
    )
    appearance = np.argsort(first)
    rank = np.empty_like(appearance)
    rank[appearance] = np.arange(len(appearance))
    return rank[inverse].astype(np.int64), names[appearance].astype(object)


def _group_starts(bins: I64, codes: I64) -> npt.NDArray[np.intp]:
    """Positions where a new (symbol, bin) group begins in the sorted rows."""
    new = np.ones(len(bins), dtype=bool)
    new[1:] = (bins[1:] != bins[:-1]) | (codes[1:] != codes[:-1])
    return np.flatnonzero(new)


def _aggregate(name: str, values: F64, starts: npt.NDArray[np.intp]) -> F64:
    """One column's value per group: first/last present value, max, min or sum (module rules)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.float64)
    missing = np.isnan(values)
    positions = np.arange(len(values))
    if name in ("open", "close"):
        if name == "open":  # the first present value: the smallest position not missing
            pick = np.minimum.reduceat(np.where(missing, len(values), positions), starts)
        else:
            pick = np.maximum.reduceat(np.where(missing, -1, positions), starts)
        found = (pick >= 0) & (pick < len(values))
        result = np.where(found, values[np.clip(pick, 0, len(values) - 1)], np.nan)
    elif name == "high":
        result = np.fmax.reduceat(values, starts)
    elif name == "low":
        result = np.fmin.reduceat(values, starts)
    else:
        total = np.add.reduceat(np.where(missing, 0.0, values), starts)
        present = np.add.reduceat(~missing, starts)
        result = np.where(present > 0, total, np.nan)
    return np.asarray(result, dtype=np.float64)


# --- results ------------------------------------------------------------------------------


def _pandas_result(
    frame: pd.DataFrame,
    shape: FrameShape,
    view: OhlcvView,
    times: I64,
    symbols: npt.NDArray[np.object_] | None,
    values: dict[str, F64],
) -> pd.DataFrame:
    import pandas as pd

    zone = pandas_times(frame, shape).tz
    index = pd.DatetimeIndex(times.astype(f"datetime64[{view.unit}]"), name=shape.time_name)
    if zone is not None:
        index = index.tz_localize("UTC").tz_convert(zone)
    symbol = None
    if symbols is not None:
        source = frame["symbol"] if shape.symbol == "column" else frame.index.to_frame()["symbol"]
        symbol = pd.Index(symbols, dtype=object, name="symbol").astype(source.dtype)
    columns: dict[str, object] = {}
    for name in frame.columns:
        if name == "symbol" and symbol is not None:
            columns["symbol"] = symbol
        elif name == "time" and shape.time == "column":
            columns["time"] = index
        elif name in values:
            columns[str(name)] = values[str(name)]
    result: pd.DataFrame
    if shape.time == "index":
        result = pd.DataFrame(columns, index=index)
    elif shape.time == "level":
        levels = {"time": index, "symbol": symbol}
        names = [str(n) for n in frame.index.names]
        keys = pd.MultiIndex.from_arrays([levels[n] for n in names], names=names)
        result = pd.DataFrame(columns, index=keys)
    else:
        result = pd.DataFrame(columns)
    return result


def _polars_result(
    frame: pl.DataFrame,
    times: I64,
    symbols: npt.NDArray[np.object_] | None,
    values: dict[str, F64],
) -> pl.DataFrame:
    import polars as pl

    dtype = frame.schema["time"]
    assert isinstance(dtype, pl.Datetime)
    time = pl.Series("time", times, dtype=pl.Int64).cast(pl.Datetime(dtype.time_unit))
    if dtype.time_zone is not None:
        time = time.dt.replace_time_zone("UTC").dt.convert_time_zone(dtype.time_zone)
    series: list[pl.Series] = []
    for name in frame.columns:
        if name == "time":
            series.append(time)
        elif name == "symbol" and symbols is not None:
            series.append(
                pl.Series("symbol", symbols.tolist(), dtype=pl.String).cast(frame.schema["symbol"])
            )
        elif name in values:
            series.append(pl.Series(name, values[name], dtype=pl.Float64))
    return pl.DataFrame(series)
