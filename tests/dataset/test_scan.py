"""Reading a dataset back: tv.scan, pyarrow, DuckDB and Dask see the same bars as tv.history."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dask.dataframe as dd
import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as pads
import pytest
from polars.testing import assert_frame_equal

import tvframe as tv
from tests.dataset.helpers import closed_history
from tvframe import sim as tvsim
from tvframe.dataset import download, scan
from tvframe.errors import InvalidArgumentError
from tvframe.frames import COLUMNS

SYMBOLS = ["NASDAQ:AAPL", "BINANCE:BTCUSDT", "FX:EURUSD", "SIMX:T007"]
DAILY_START = "2025-11-01"  # the daily bars span two years, two partitions each
HOURLY_START = "2026-10-20"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Daily and hourly bars of four symbols; the simulator keeps running for references."""
    with tvsim.running():
        path = tmp_path_factory.mktemp("scan") / "bars"
        download(SYMBOLS, "1d", start=DAILY_START, path=path, progress=False, rate=None)
        download(SYMBOLS, "1h", start=HOURLY_START, path=path, progress=False, rate=None)
        yield path


@pytest.fixture(scope="module")
def daily(dataset: Path) -> pl.DataFrame:
    return closed_history(SYMBOLS, "1d", DAILY_START)


def tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Any reader's frame in tv.history's columns, dtypes and order."""
    return (
        frame.select(list(COLUMNS))
        .with_columns(
            pl.col("time").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
            pl.col("symbol").cast(pl.String),
        )
        .sort("symbol", "time")
    )


def test_scan_is_lazy_and_equals_history(dataset: Path, daily: pl.DataFrame) -> None:
    lazy = scan(dataset, SYMBOLS, "1d")
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), daily)  # same columns, dtypes and order as history
    hourly = scan(dataset, SYMBOLS, "1h").collect()
    assert_frame_equal(hourly, closed_history(SYMBOLS, "1h", HOURLY_START))


def test_scan_selects_symbols_in_order_and_a_window(dataset: Path, daily: pl.DataFrame) -> None:
    picked = ["FX:EURUSD", "NASDAQ:AAPL"]
    got = scan(dataset, picked, "1d", start="2025-12-15", end="2026-01-10").collect()
    want = daily.filter(
        pl.col("symbol").is_in(picked)
        & (pl.col("time") >= pd.Timestamp("2025-12-15", tz="UTC"))
        & (pl.col("time") < pd.Timestamp("2026-01-10", tz="UTC"))
    )
    assert got["symbol"].unique(maintain_order=True).to_list() == picked
    assert_frame_equal(got.sort("symbol", "time"), want.sort("symbol", "time"))


def test_partitions_outside_the_window_are_never_read(dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    for old in copy.rglob("year=2025/part-0.parquet"):
        old.write_bytes(b"not parquet: reading this file would fail")
    recent = scan(copy, SYMBOLS, "1d", start="2026-01-01").collect()
    assert recent.height > 0 and recent["time"].min().year == 2026  # type: ignore[union-attr]
    with pytest.raises(Exception, match=r"(?i)parquet"):
        scan(copy, SYMBOLS, "1d").collect()


def test_pandas_backend_is_shaped_like_history(dataset: Path) -> None:
    got = scan(dataset, SYMBOLS, "1d", backend="pandas")
    want = tv.history(SYMBOLS, "1d", start=DAILY_START, progress=False)
    assert isinstance(want, pd.DataFrame)
    pd.testing.assert_frame_equal(got, want.groupby(level="symbol", sort=False).head(-1))
    one = scan(dataset, "NASDAQ:AAPL", "1d", backend="pandas")
    assert one.index.name == "time" and one.attrs["tvframe"]["interval"] == "1d"


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # dask with pandas 3.1
def test_pyarrow_duckdb_and_dask_read_it_unchanged(dataset: Path, daily: pl.DataFrame) -> None:
    table = pads.dataset(dataset, format="parquet", partitioning="hive").to_table()
    arrow = pl.from_arrow(table)
    assert isinstance(arrow, pl.DataFrame)
    query = f"select * from read_parquet('{dataset}/**/*.parquet', hive_partitioning = true)"
    relation = duckdb.sql(query)
    assert relation is not None
    duck = pl.from_pandas(relation.df())
    dask = pl.from_pandas(dd.read_parquet(dataset).compute())
    for frame in (arrow, duck, dask):
        assert_frame_equal(
            tidy(frame.filter(pl.col("interval") == "1d")), daily.sort("symbol", "time")
        )
        assert set(frame["interval"].cast(pl.String).unique()) == {"1d", "1h"}
    assert (
        arrow.height
        == scan(dataset, interval="1d").collect().height
        + scan(dataset, interval="1h").collect().height
    )


def test_scan_names_what_the_dataset_lacks(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="several intervals"):
        scan(dataset, SYMBOLS)
    with pytest.raises(InvalidArgumentError, match="no '5m' bars; it holds 1d, 1h"):
        scan(dataset, SYMBOLS, "5m")
    with pytest.raises(InvalidArgumentError, match="no bars of NYSE:KO"):
        scan(dataset, ["NYSE:KO", "NASDAQ:AAPL"], "1d")
    with pytest.raises(InvalidArgumentError, match="no dataset at"):
        scan(tmp_path / "nothing", interval="1d")
    empty = scan(dataset, SYMBOLS, "1d", start="2030-01-01").collect()
    assert empty.height == 0 and empty.columns == list(COLUMNS)
