"""``df.tv``: which frames it accepts, what it says about them, and that it changes nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tests.accessors.simbars import ZONE, Frame
from tvframe.accessors import register
from tvframe.errors import (
    FrameShapeError,
    InvalidArgumentError,
    MissingColumnsError,
    TvFrameValidationError,
)
from tvframe.meta import FrameMeta, frame_meta
from tvframe.models import SymbolInfo

OHLC = {"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.5], "close": [1.5, 2.5]}


def _foreign_pandas() -> Frame:
    """A frame tvframe did not make: naive unnamed DatetimeIndex, int volume, an extra column."""
    times = pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 10:15"])
    return pd.DataFrame({**OHLC, "volume": [100, 200], "vwap": [1.2, 2.2]}, index=times)


def test_register_twice_is_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas warns when an accessor is registered again
        register()
        register()
    assert hasattr(pd.DataFrame, "tv") and hasattr(pl.DataFrame, "tv")


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        ({"open": [1.0], "close": [1.0]}, "high, low, time"),
        ({**{k: v[:1] for k, v in OHLC.items()}}, "time"),
        ({"close": [1.0], "time": pd.to_datetime(["2024-01-02"])}, "open, high, low"),
    ],
)
def test_pandas_frame_missing_columns_raises_attribute_error_naming_them(
    columns: dict[str, Any], missing: str
) -> None:
    frame: Frame = pd.DataFrame(columns)

    with pytest.raises(MissingColumnsError, match=f"missing {missing} ") as caught:
        frame.tv  # noqa: B018

    assert isinstance(caught.value, AttributeError)
    assert isinstance(caught.value, TvFrameValidationError)
    assert ", ".join(caught.value.missing) == missing
    assert not hasattr(frame, "tv")


def test_polars_frame_missing_columns_names_them() -> None:
    frame: Frame = pl.DataFrame({"time": [datetime(2024, 1, 2)], "open": [1.0], "close": [1.0]})

    # Not an AttributeError: polars would replace its message with "no attribute 'tv'".
    with pytest.raises(FrameShapeError, match="missing high, low ") as caught:
        frame.tv  # noqa: B018

    assert caught.value.missing == ("high", "low")


def test_polars_time_must_be_a_datetime() -> None:
    frame: Frame = pl.DataFrame({"time": ["2024-01-02"], **{k: v[:1] for k, v in OHLC.items()}})

    with pytest.raises(FrameShapeError, match="missing time"):
        frame.tv  # noqa: B018


def test_prices_must_be_numeric() -> None:
    frame: Frame = pd.DataFrame(
        {**OHLC, "open": ["1", "2"]}, index=pd.date_range("2024", periods=2)
    )

    with pytest.raises(MissingColumnsError, match="open must be numeric"):
        frame.tv  # noqa: B018


def test_frame_not_made_by_tvframe_works_in_pandas(tmp_path: Path) -> None:
    frame: Frame = _foreign_pandas()

    meta = frame.tv.meta
    hourly = frame.tv.resample("1h")
    written = frame.tv.to_csv(tmp_path / "bars.csv")
    figure = frame.tv.plot()

    assert meta == FrameMeta(interval=None, tz="UTC", symbols={})
    assert hourly.index.tolist() == [
        pd.Timestamp("2024-01-02 09:00"),
        pd.Timestamp("2024-01-02 10:00"),
    ]
    assert hourly.columns.tolist() == ["open", "high", "low", "close", "volume"]
    assert hourly["volume"].tolist() == [100.0, 200.0]
    assert frame_meta(hourly) == FrameMeta(interval="1h", tz="UTC", symbols={})
    assert written.read_text().count("\n") == 4  # header line, column names, two rows
    assert [ax.get_ylabel() for ax in figure.axes] == ["price", "volume", "vwap"]


def test_frame_not_made_by_tvframe_works_in_polars() -> None:
    frame: Frame = pl.DataFrame(
        {
            "time": [datetime(2024, 1, 2, 9, 30), datetime(2024, 1, 3, 9, 30)],
            "symbol": ["NYSE:IBM", "NYSE:IBM"],
            **OHLC,
        }
    ).with_columns(pl.col("time").dt.replace_time_zone("Europe/Berlin"))

    meta = frame.tv.meta
    weekly = frame.tv.resample("1w")

    assert meta.interval is None and meta.tz == "Europe/Berlin"
    assert meta.symbols == {"NYSE:IBM": SymbolInfo(symbol="NYSE:IBM")}
    assert frame.tv.info == SymbolInfo(symbol="NYSE:IBM")
    assert weekly.columns == ["time", "symbol", "open", "high", "low", "close"]
    assert weekly.rows() == [
        (datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")), "NYSE:IBM", 1.0, 3.0, 0.5, 2.5)
    ]


def test_time_column_and_multiindex_shapes_are_accepted() -> None:
    times = pd.to_datetime(["2024-01-02", "2024-01-03"]).tz_localize("UTC")
    by_column: Frame = pd.DataFrame({"time": times, **OHLC})
    by_level: Frame = pd.DataFrame(
        OHLC, index=pd.MultiIndex.from_arrays([["A:X", "B:Y"], times], names=["symbol", "time"])
    )

    assert by_column.tv.resample("1d")["time"].tolist() == times.tolist()
    assert by_level.tv.meta.symbols.keys() == {"A:X", "B:Y"}


def test_meta_and_info_of_tvframe_frames(
    one_symbol: Frame, multi_symbol: Frame, polars_frame: Frame
) -> None:
    assert one_symbol.tv.meta == frame_meta(one_symbol)
    assert one_symbol.tv.meta.interval == "5m" and one_symbol.tv.meta.tz == ZONE
    assert one_symbol.tv.info.symbol == "NASDAQ:AAPL"
    assert one_symbol.tv.info.description == "Apple Inc."
    assert polars_frame.tv.meta is frame_meta(polars_frame)
    assert list(multi_symbol.tv.meta.symbols) == ["NASDAQ:AAPL", "FX:EURUSD"]


@pytest.mark.parametrize("fixture", ["multi_symbol", "polars_frame"])
def test_info_of_several_symbols_names_them(fixture: str, request: pytest.FixtureRequest) -> None:
    frame: Frame = request.getfixturevalue(fixture)

    with pytest.raises(InvalidArgumentError, match=r"2 symbols \(NASDAQ:AAPL, FX:EURUSD\).*meta"):
        frame.tv.info  # noqa: B018


def test_info_of_a_filtered_frame_is_the_remaining_symbol(polars_frame: Frame) -> None:
    euro = polars_frame.filter(pl.col("symbol") == "FX:EURUSD")  # no metadata: a new frame

    assert euro.tv.info == SymbolInfo(symbol="FX:EURUSD")


def test_info_without_any_symbol_says_so() -> None:
    with pytest.raises(InvalidArgumentError, match="names no symbol"):
        _foreign_pandas().tv.info  # noqa: B018


def _snapshot(frame: Any) -> Any:
    if isinstance(frame, pd.DataFrame):
        return frame.copy(deep=True), copy.deepcopy(frame.attrs)
    return frame.clone(), frame_meta(frame)


def _assert_unchanged(frame: Any, snapshot: Any) -> None:
    if isinstance(frame, pd.DataFrame):
        pd.testing.assert_frame_equal(frame, snapshot[0])
        assert frame.attrs == snapshot[1]
    else:
        assert frame.equals(snapshot[0]) and frame.schema == snapshot[0].schema
        assert frame_meta(frame) is snapshot[1]


CALLS: dict[str, Callable[[Any, Path], object]] = {
    "meta": lambda f, _: f.tv.meta,
    "info": lambda f, _: f.tv.info,
    "resample": lambda f, _: f.tv.resample("1h"),
    "to_parquet": lambda f, d: f.tv.to_parquet(d / "a.parquet"),
    "to_csv": lambda f, d: f.tv.to_csv(d / "a.csv"),
    "to_json": lambda f, d: f.tv.to_json(d / "a.json"),
    "plot": lambda f, d: f.tv.plot(d / "a.png"),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_no_accessor_call_mutates_the_frame(
    call: str, one_symbol: Frame, polars_frame: Frame, tmp_path: Path
) -> None:
    euro = polars_frame.filter(pl.col("symbol") == "FX:EURUSD")
    for frame in (one_symbol, euro):
        before = _snapshot(frame)
        CALLS[call](frame, tmp_path)
        _assert_unchanged(frame, before)


def test_accessor_sees_the_frame_as_it_is_now() -> None:
    frame: Frame = _foreign_pandas()
    assert frame.tv.meta.symbols == {}

    frame["symbol"] = "NYSE:IBM"

    assert frame.tv.info.symbol == "NYSE:IBM"
    assert np.isclose(frame.tv.resample("1d")["volume"].iloc[0], 300.0)


@pytest.mark.parametrize(
    "imports",
    [
        "import tvframe, pandas, polars",
        "import pandas, polars, tvframe",
        "import tvframe, polars, pandas",  # polars probes pandas with find_spec first
        "import polars, tvframe, pandas",
    ],
)
def test_accessor_registered_whatever_the_import_order(imports: str) -> None:
    code = (
        f"{imports}\n"
        "import sys\n"
        "print(hasattr(pandas.DataFrame, 'tv'), hasattr(polars.DataFrame, 'tv'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_importing_tvframe_imports_no_dataframe_library() -> None:
    code = "import sys, tvframe; print('pandas' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
