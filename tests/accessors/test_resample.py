"""``df.tv.resample``: checked against a plain-Python computation, the simulator's own bars,
and across backends, time zones and clock changes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tests.accessors.simbars import ZONE, Frame, meta_for, sim_bars
from tvframe.errors import InvalidArgumentError, InvalidIntervalError
from tvframe.frames import bars_frame
from tvframe.meta import frame_meta

Row = tuple[Any, ...]  # (symbol, bin open in UTC, open, high, low, close, volume)


def _zero(d: datetime) -> datetime:
    return d.replace(second=0, microsecond=0)


# The bin open of a local wall time, written out by hand for each interval tested.
FLOORS: dict[str, Callable[[datetime], datetime]] = {
    "15m": lambda d: _zero(d.replace(minute=d.minute - d.minute % 15)),
    "1h": lambda d: _zero(d.replace(minute=0)),
    "2h": lambda d: _zero(d.replace(hour=d.hour - d.hour % 2, minute=0)),
    "4h": lambda d: _zero(d.replace(hour=d.hour - d.hour % 4, minute=0)),
    "1d": lambda d: _zero(d.replace(hour=0, minute=0)),
    "1w": lambda d: _zero((d - timedelta(days=d.weekday())).replace(hour=0, minute=0)),
    "1M": lambda d: _zero(d.replace(day=1, hour=0, minute=0)),
}


def _present(values: Iterable[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def hand_resample(rows: Iterable[Row], zone: str, interval: str) -> list[Row]:
    """Resample rows (in symbol, time order) the slow, obvious way."""
    groups: dict[tuple[str, datetime], list[Row]] = {}
    for symbol, time, *values in rows:
        local = time.astimezone(ZoneInfo(zone))
        label = FLOORS[interval](local).astimezone(timezone.utc)
        groups.setdefault((symbol, label), []).append(tuple(values))
    result = []
    for (symbol, label), bars in groups.items():
        opens, highs, lows, closes, volumes = (
            _present(column) for column in zip(*bars, strict=True)
        )
        result.append(
            (
                symbol,
                label,
                opens[0] if opens else math.nan,
                max(highs) if highs else math.nan,
                min(lows) if lows else math.nan,
                closes[-1] if closes else math.nan,
                sum(volumes) if volumes else math.nan,
            )
        )
    return result


def rows_of(frame: pd.DataFrame | pl.DataFrame) -> list[Row]:
    """(symbol, UTC time, o, h, l, c, v) per row, in frame order."""
    if isinstance(frame, pl.DataFrame):
        flat = frame.select("symbol", "time", "open", "high", "low", "close", "volume").rows()
    else:
        table = frame.reset_index()[["symbol", "time", "open", "high", "low", "close", "volume"]]
        flat = [tuple(row) for row in table.itertuples(index=False)]
    return [
        (str(s), pd.Timestamp(t).to_pydatetime().astimezone(timezone.utc), *v) for s, t, *v in flat
    ]


def assert_rows_equal(actual: list[Row], expected: list[Row]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got[:2] == want[:2]
        np.testing.assert_allclose(got[2:], want[2:], rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("interval", ["1h", "1d"])
def test_pandas_multi_symbol_equals_hand_computation(multi_symbol: Frame, interval: str) -> None:
    result = multi_symbol.tv.resample(interval)

    assert result.index.names == ["symbol", "time"]
    assert_rows_equal(rows_of(result), hand_resample(rows_of(multi_symbol), ZONE, interval))


@pytest.mark.parametrize("interval", ["1h", "1d"])
def test_polars_equals_hand_computation_and_pandas(
    polars_frame: Frame, multi_symbol: Frame, interval: str
) -> None:
    result = polars_frame.tv.resample(interval)

    assert result.schema == polars_frame.schema
    assert_rows_equal(rows_of(result), hand_resample(rows_of(polars_frame), ZONE, interval))
    assert_rows_equal(rows_of(result), rows_of(multi_symbol.tv.resample(interval)))


@pytest.mark.parametrize("interval", ["15m", "4h", "1w", "1M"])
def test_one_symbol_intervals_equal_hand_computation(one_symbol: Frame, interval: str) -> None:
    result = one_symbol.tv.resample(interval)

    assert result.columns.tolist() == one_symbol.columns.tolist()
    assert result.index.dtype == one_symbol.index.dtype
    assert_rows_equal(rows_of(result), hand_resample(rows_of(one_symbol), ZONE, interval))


def test_daily_bins_of_exchange_time_are_the_simulators_daily_bars() -> None:
    # The simulator rolls its daily bars up from the same minutes: the values must agree.
    five: Frame = bars_frame([("NASDAQ:AAPL", sim_bars("NASDAQ:AAPL", "5"))], tz=ZONE)
    daily = sim_bars("NASDAQ:AAPL", "1D")

    result = five.tv.resample("1d")

    expected = np.column_stack([daily.open, daily.high, daily.low, daily.close, daily.volume])
    np.testing.assert_allclose(result[["open", "high", "low", "close", "volume"]], expected)
    wall = result.index.tz_localize(None)
    assert (wall == wall.normalize()).all()  # local midnights


@pytest.mark.parametrize(
    ("start", "interval"),
    [
        (datetime(2026, 10, 31, 20, tzinfo=timezone.utc), "1h"),  # clocks go back on Nov 1
        (datetime(2026, 3, 7, 20, tzinfo=timezone.utc), "2h"),  # and forward on Mar 8
    ],
)
def test_bins_across_clock_changes_equal_hand_computation(start: datetime, interval: str) -> None:
    begin = start.timestamp()
    bars = sim_bars("BINANCE:BTCUSDT", "5", begin, begin + 86_400)
    frame: Frame = bars_frame([("BINANCE:BTCUSDT", bars)], "polars", tz=ZONE)

    result = frame.tv.resample(interval)

    assert_rows_equal(rows_of(result), hand_resample(rows_of(frame), ZONE, interval))
    assert result["time"].is_unique().all()


def test_the_repeated_hour_gives_two_bins() -> None:
    begin = datetime(2026, 11, 1, 4, tzinfo=timezone.utc).timestamp()  # 00:00 EDT
    frame: Frame = bars_frame(
        [("BINANCE:BTCUSDT", sim_bars("BINANCE:BTCUSDT", "5", begin, begin + 4 * 3600))], tz=ZONE
    )

    result = frame.tv.resample("1h")

    local = [t.strftime("%H:%M %Z") for t in result.index]
    assert local == ["00:00 EDT", "01:00 EDT", "01:00 EST", "02:00 EST"]


def test_nan_volume_stays_nan_and_empty_bins_are_dropped(one_symbol: Frame) -> None:
    result = one_symbol.tv.resample("1h")

    hours = one_symbol.index.floor("1h")
    volumes = one_symbol["volume"].groupby(hours)
    every_missing = volumes.apply(lambda v: v.isna().all())
    some_missing = volumes.apply(lambda v: v.isna().any()) & ~every_missing
    assert every_missing.any() and some_missing.any()  # the fixture has both kinds of bins
    assert result.index.equals(hours.unique())  # no rows for nights and the weekend
    assert (result["volume"].isna() == every_missing).all()
    partial = result["volume"][some_missing.to_numpy()]
    assert (partial == volumes.sum()[some_missing]).all()
    assert not result[["open", "high", "low", "close"]].isna().any().any()


def test_metadata_carries_the_new_interval(polars_frame: Frame) -> None:
    result = polars_frame.tv.resample("4h")

    meta = frame_meta(result)
    assert meta is not None and meta.interval == "4h"
    assert meta == meta_for(["NASDAQ:AAPL", "FX:EURUSD"], interval="4h")


def test_a_shorter_interval_is_refused(one_symbol: Frame) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot resample 5m bars to 1m"):
        one_symbol.tv.resample("1m")


def test_a_bad_spelling_is_refused(one_symbol: Frame) -> None:
    with pytest.raises(InvalidIntervalError, match="'1 hour'"):
        one_symbol.tv.resample("1 hour")


def test_other_index_levels_are_refused() -> None:
    index = pd.MultiIndex.from_arrays(
        [["X"], ["A:B"], pd.to_datetime(["2024-01-02"])], names=["venue", "symbol", "time"]
    )
    frame: Frame = pd.DataFrame(
        {"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}, index=index
    )

    with pytest.raises(InvalidArgumentError, match="index levels venue"):
        frame.tv.resample("1d")


def test_an_empty_frame_resamples_to_an_empty_frame(polars_frame: Frame) -> None:
    empty = polars_frame.head(0)

    result = empty.tv.resample("1d")

    assert result.is_empty() and result.schema == empty.schema
