"""Export: the seed's file names, safe name parts, atomic never-overwriting writes, contents."""

from __future__ import annotations

import csv
import json
import os
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tvframe.errors import InvalidArgumentError
from tvframe.export import (
    export_data,
    export_filename,
    safe_component,
    write_csv,
    write_json,
    write_parquet,
)
from tvframe.frames import to_pandas, to_polars
from tvframe.models import IndicatorData, OHLCData
from tvframe.protocol.events import Bars

WHEN = datetime(2024, 1, 1, 12, 30, 45, tzinfo=timezone.utc)
CANDLES = [
    OHLCData(index=0, timestamp=1704110400.0, open=42000.1, high=42100.25, low=41999.0,
             close=42050.123456789, volume=12.5),
    OHLCData(index=1, timestamp=1704110460.0, open=42050.123456789, high=42060.0,
             low=0.1 + 0.2, close=42055.0, volume=None),
]  # fmt: skip
EXPECTED_ROWS = [candle.model_dump() for candle in CANDLES]


def _bars() -> Bars:
    return Bars(
        np.arange(2, dtype=np.int64),
        np.array([1704110400.0, 1704110460.0]),
        np.array([1.5, 2.5]),
        np.array([2.0, 3.0]),
        np.array([1.0, 2.0]),
        np.array([1.75, 2.25]),
        np.array([10.0, np.nan]),
    )


# --- names -------------------------------------------------------------------------------


def test_seed_file_names() -> None:
    assert export_filename("ohlc", "BTCUSDT", "1m", "json", WHEN) == (
        "ohlc_btcusdt_1m_20240101-123045.json"
    )
    assert export_filename("indicator", "ETHUSDT", "5m", "csv", WHEN) == (
        "indicator_ethusdt_5m_20240101-123045.csv"
    )
    assert export_filename("ohlc", "BINANCE:BTCUSDT", "1M", "parquet", WHEN) == (
        "ohlc_btcusdt_1M_20240101-123045.parquet"
    )


def test_file_name_time_stamp_is_utc() -> None:
    tokyo = WHEN.astimezone(timezone(timedelta(hours=9)))
    assert tokyo.hour == 21
    assert export_filename("ohlc", "X", "1m", "json", tokyo).endswith("_20240101-123045.json")


def test_unknown_export_type_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="export_type='xlsx'"):
        export_filename("ohlc", "X", "1m", "xlsx", WHEN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("../../etc/x", "etc_x"),
        ("C:\\x", "C_x"),
        ("/abs/path", "abs_path"),
        ("a\x00b", "a_b"),
        ("CON", "CON_"),
        ("nul.txt", "nul_.txt"),
        ("com1", "com1_"),
        ("LPT9.tar.gz", "LPT9_.tar.gz"),
        ("BRK.B", "BRK.B"),
        ("ES1!", "ES1"),
        ("a..b", "a_b"),
        ("x" * 300, "x" * 64),
        ("ünïcødé", "n_c_d"),
    ],
)
def test_safe_component(text: str, expected: str) -> None:
    assert safe_component(text) == expected


@pytest.mark.parametrize("text", ["", "..", "...", "/", "\\", "\x00", "::", "."])
def test_nothing_usable_left_is_an_error(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        safe_component(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    "symbol", ["../../etc/x", "C:\\x", "..\\..\\win.ini", "CON", "NUL", "a\x00/../b", "/etc/passwd"]
)
def test_hostile_symbols_stay_inside_the_directory(tmp_path: Path, symbol: str) -> None:
    target = tmp_path / "export"
    path = export_data(CANDLES, symbol=symbol, timeframe="1m", directory=target, when=WHEN)
    assert path.parent == target
    assert path.resolve().parent == target.resolve()
    assert path.name.startswith("ohlc_") and path.name.endswith("_1m_20240101-123045.json")
    assert not any(ch in path.name for ch in "/\\\x00:") and ".." not in path.name
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["export", path.name])


# --- atomic, never-overwriting writes -----------------------------------------------------


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    first = tmp_path / "ohlc_btcusdt_1m_20240101-123045.json"
    first.write_text("keep me")
    paths = [
        export_data(CANDLES, symbol="BTCUSDT", timeframe="1m", directory=tmp_path, when=WHEN)
        for _ in range(2)
    ]
    assert [p.name for p in paths] == [
        "ohlc_btcusdt_1m_20240101-123045-1.json",
        "ohlc_btcusdt_1m_20240101-123045-2.json",
    ]
    assert first.read_text() == "keep me"
    assert all(json.loads(p.read_text()) == EXPECTED_ROWS for p in paths)


def test_no_temporary_file_is_left_and_mode_is_the_usual_one(tmp_path: Path) -> None:
    path = write_json(CANDLES, tmp_path / "a.json")
    probe = tmp_path / "probe"
    probe.touch()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "probe"]
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(probe.stat().st_mode)


@pytest.mark.parametrize("writer", [write_json, write_csv, write_parquet])
def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, writer: object) -> None:
    mixed = [CANDLES[0], IndicatorData(index=0, timestamp=1.0, smoothing=2.0, close=3.0)]
    assert callable(writer)
    with pytest.raises(InvalidArgumentError, match="one pydantic model type"):
        writer(mixed, tmp_path / "bad.out")
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_to_one_name_each_get_their_own_file(tmp_path: Path) -> None:
    barrier = threading.Barrier(16)
    paths: list[Path] = []

    def write(i: int) -> None:
        barrier.wait()
        rows = [CANDLES[0].model_copy(update={"index": i})]
        paths.append(write_json(rows, tmp_path / "same.json"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {"same.json", *(f"same-{n}.json" for n in range(1, 16))}
    assert {p.name for p in paths} == expected
    assert {p.name for p in tmp_path.iterdir()} == expected
    assert sorted(json.loads(p.read_text())[0]["index"] for p in paths) == list(range(16))


def test_missing_directories_are_created(tmp_path: Path) -> None:
    path = write_csv(CANDLES, tmp_path / "a" / "b" / "c.csv")
    assert path == tmp_path / "a" / "b" / "c.csv" and path.is_file()


# --- contents ------------------------------------------------------------------------------


def test_json_of_models_is_exact(tmp_path: Path) -> None:
    path = write_json(CANDLES, tmp_path / "c.json")
    assert json.loads(path.read_text()) == EXPECTED_ROWS


def test_csv_of_models_is_exact(tmp_path: Path) -> None:
    path = write_csv(CANDLES, tmp_path / "c.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "index,timestamp,open,high,low,close,volume"
    assert lines[2] == "1,1704110460.0,42050.123456789,42060.0,0.30000000000000004,42055.0,"
    rows = list(csv.DictReader(lines))
    parsed = [{k: (float(v) if v else None) for k, v in row.items()} for row in rows]
    assert parsed == [{**row, "index": float(row["index"])} for row in EXPECTED_ROWS]


def test_parquet_of_models_is_exact(tmp_path: Path) -> None:
    path = write_parquet(CANDLES, tmp_path / "c.parquet")
    frame = pd.read_parquet(path)
    assert frame.columns.tolist() == list(EXPECTED_ROWS[0])
    assert frame.drop(columns="volume").to_dict(orient="records") == [
        {k: v for k, v in row.items() if k != "volume"} for row in EXPECTED_ROWS
    ]
    assert frame["volume"].iloc[0] == 12.5 and pd.isna(frame["volume"].iloc[1])


def test_empty_lists_export_empty_files(tmp_path: Path) -> None:
    assert write_json([], tmp_path / "e.json").read_text() == "[]"
    assert write_csv([], tmp_path / "e.csv").read_text() == ""


def test_pandas_frame_keeps_its_time_index_as_a_column(tmp_path: Path) -> None:
    frame = to_pandas(_bars(), "NASDAQ:AAPL")
    rows = json.loads(write_json(frame, tmp_path / "f.json").read_text())
    assert rows[0] == {
        "time": "2024-01-01T12:00:00+00:00",
        "symbol": "NASDAQ:AAPL",
        "open": 1.5,
        "high": 2.0,
        "low": 1.0,
        "close": 1.75,
        "volume": 10.0,
    }
    assert rows[1]["volume"] is None
    back = pd.read_csv(write_csv(frame, tmp_path / "f.csv"))
    assert back.columns.tolist() == ["time", "symbol", "open", "high", "low", "close", "volume"]
    assert back["close"].tolist() == [1.75, 2.25]
    restored = pd.read_parquet(write_parquet(frame, tmp_path / "f.parquet"))
    pd.testing.assert_frame_equal(restored, frame.reset_index(), check_dtype=False)


def test_polars_frame(tmp_path: Path) -> None:
    frame = to_polars(_bars(), "BINANCE:BTCUSDT")
    rows = json.loads(write_json(frame, tmp_path / "p.json").read_text())
    assert [row["close"] for row in rows] == [1.75, 2.25]
    assert rows[0]["time"].startswith("2024-01-01T12:00:00")
    assert pl.read_csv(write_csv(frame, tmp_path / "p.csv"))["close"].to_list() == [1.75, 2.25]
    assert pl.read_parquet(write_parquet(frame, tmp_path / "p.parquet")).equals(frame)


def test_export_data_writes_every_format_under_the_seed_name(tmp_path: Path) -> None:
    for export_type in ("json", "csv", "parquet"):
        path = export_data(
            CANDLES,
            symbol="BINANCE:ETHUSDT",
            timeframe="5m",
            export_type=export_type,
            directory=tmp_path,
            when=WHEN,
        )
        assert path == tmp_path / f"ohlc_ethusdt_5m_20240101-123045.{export_type}"
    assert len(os.listdir(tmp_path)) == 3


def test_export_refuses_what_is_not_a_list_of_models(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="got dict"):
        write_json({"a": 1}, tmp_path / "x.json")  # type: ignore[arg-type]
