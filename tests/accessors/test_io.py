"""Lossless Parquet / CSV / JSON files and the seed's export naming."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from tests.accessors.simbars import ZONE, Frame, meta_for, sim_bars
from tvframe import io
from tvframe.errors import InvalidArgumentError
from tvframe.frames import bars_frame
from tvframe.meta import frame_meta

FORMATS = ("parquet", "csv", "json")
SHAPES = ("one_symbol", "multi_symbol", "polars_frame")
SEED_NAME = re.compile(r"^ohlcv_(?P<symbol>[a-z0-9.-]+)_(?P<tf>[0-9A-Za-z]+)_\d{8}-\d{6}\.\w+$")


def _write(fmt: str, frame: Any, path: Path) -> Path:
    """Through the accessor, as a user would."""
    written: Path = getattr(frame.tv, f"to_{fmt}")(path)
    return written


def _read(fmt: str, path: Path, backend: str | None = None) -> Any:
    return getattr(io, f"read_{fmt}")(path, backend)


def _time_dtype(frame: Any) -> str:
    if isinstance(frame, pl.DataFrame):
        return str(frame.schema["time"])
    return str(frame.index.get_level_values("time").dtype)


def _has_nan_volume(frame: Any) -> bool:
    volume = frame["volume"]
    return bool(volume.is_nan().any() if isinstance(frame, pl.DataFrame) else volume.isna().any())


def assert_same_frame(back: Any, frame: Any) -> None:
    if isinstance(frame, pd.DataFrame):
        pd.testing.assert_frame_equal(back, frame)
    else:
        assert back.equals(frame)  # NaN equals NaN here
        assert back.schema == frame.schema
    assert frame_meta(back) == frame_meta(frame)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_is_lossless(
    shape: str, fmt: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    frame: Frame = request.getfixturevalue(shape)
    assert ZONE in _time_dtype(frame) and _has_nan_volume(frame)

    back = _read(fmt, _write(fmt, frame, tmp_path / f"bars.{fmt}"))

    assert_same_frame(back, frame)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_a_frame_tvframe_did_not_make(fmt: str, tmp_path: Path) -> None:
    frame: Frame = pd.DataFrame(
        {
            "time": pd.to_datetime(
                ["2024-01-02 09:30:00.123456789", "2024-01-02 10:00"], format="ISO8601"
            ),
            "open": [1.0, np.inf],
            "high": [2.0, 3.0],
            "low": [0.5, -np.inf],
            "close": [1.5, np.nan],
            "volume": [10, 20],
            "halted": [False, True],
            "note": pd.array(["", pd.NA], dtype="string"),
        }
    )

    back = _read(fmt, _write(fmt, frame, tmp_path / f"bars.{fmt}"))

    pd.testing.assert_frame_equal(back, frame)
    assert frame_meta(back) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_polars_nulls_and_nans_stay_apart(fmt: str, tmp_path: Path) -> None:
    frame: Frame = pl.DataFrame(
        {
            "time": [datetime(2024, 1, 2, 9, 30), None],
            "symbol": ["A:X", ""],
            "open": [1.0, None],
            "high": [float("nan"), 2.0],
            "low": [1.0, 1.0],
            "close": [1.0, 1.0],
        }
    ).with_columns(pl.col("time").dt.replace_time_zone("Asia/Kolkata"))

    back = _read(fmt, getattr(io, f"to_{fmt}")(frame, tmp_path / f"a.{fmt}"))

    assert back.equals(frame) and back.schema == frame.schema
    assert back["open"].null_count() == 1 and back["high"].is_nan().sum() == 1


def test_csv_keeps_the_zone_name_and_the_offset(one_symbol: Frame, tmp_path: Path) -> None:
    lines = one_symbol.tv.to_csv(tmp_path / "a.csv").read_text().splitlines()

    header = orjson.loads(lines[0].removeprefix("#tvframe "))
    assert header["meta"]["interval"] == "5m"
    time = {"name": "time", "type": f"timestamp[us, tz={ZONE}]", "dtype": f"datetime64[us, {ZONE}]"}
    assert time in header["columns"]
    assert lines[1].split(",")[0] == '"time"'
    assert lines[2].startswith('"2026-10-26T09:30:00.000000-04:00",')  # summer time
    assert lines[-1].startswith('"2026-11-03T15:55:00.000000-05:00",')  # winter time


def test_json_is_an_envelope_of_header_and_rows(polars_frame: Frame, tmp_path: Path) -> None:
    document = orjson.loads(polars_frame.tv.to_json(tmp_path / "a.json").read_bytes())

    assert document["tvframe"]["format"] == "tvframe.frame"
    assert document["tvframe"]["backend"] == "polars"
    assert len(document["rows"]) == polars_frame.height
    assert document["rows"][0]["volume"] == "NaN"
    assert document["rows"][0]["time"] == "2026-10-26T09:30:00.000000-04:00"


def test_parquet_holds_the_header_in_its_metadata(multi_symbol: Frame, tmp_path: Path) -> None:
    path = multi_symbol.tv.to_parquet(tmp_path / "a.parquet")

    header = orjson.loads(pq.read_schema(path).metadata[b"tvframe"])
    assert [level["name"] for level in header["index"]] == ["symbol", "time"]
    assert header["meta"]["symbols"]["FX:EURUSD"]["description"] == "Euro / U.S. Dollar"


@pytest.mark.parametrize("fmt", FORMATS)
def test_reading_with_the_other_backend_gives_its_tvframe_shape(
    fmt: str, multi_symbol: Frame, polars_frame: Frame, tmp_path: Path
) -> None:
    from_pandas = _read(fmt, _write(fmt, multi_symbol, tmp_path / f"p.{fmt}"), "polars")
    from_polars = _read(fmt, _write(fmt, polars_frame, tmp_path / f"q.{fmt}"), "pandas")

    assert from_pandas.columns == polars_frame.columns
    assert from_pandas.equals(polars_frame)  # NaN volumes stay NaN
    assert from_polars.index.names == ["symbol", "time"]
    assert from_polars["close"].tolist() == multi_symbol["close"].tolist()
    assert frame_meta(from_pandas) == frame_meta(multi_symbol)


def test_plain_parquet_and_csv(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pq.write_table(pl.DataFrame({"a": [1.5]}).to_arrow(), plain)
    not_ours = tmp_path / "plain.csv"
    not_ours.write_text("a\n1.5\n")

    assert io.read_parquet(plain, "pandas")["a"].tolist() == [1.5]
    with pytest.raises(InvalidArgumentError, match="no '#tvframe' header"):
        io.read_csv(not_ours)


def test_csv_and_json_refuse_columns_they_cannot_hold(tmp_path: Path) -> None:
    frame: Frame = pd.DataFrame({"kind": pd.Categorical(["a"]), "close": [1.0]})

    with pytest.raises(InvalidArgumentError, match=r"columns kind \(dictionary.*to_parquet"):
        io.to_csv(frame, tmp_path / "a.csv")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_an_existing_file_is_never_overwritten(one_symbol: Frame, tmp_path: Path) -> None:
    first = one_symbol.tv.to_json(tmp_path / "a.json")
    second = one_symbol.tv.to_json(tmp_path / "a.json")

    assert (first.name, second.name) == ("a.json", "a-1.json")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_path_uses_the_seed_naming_in_export(
    fmt: str, one_symbol: Frame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = datetime.now(timezone.utc).replace(microsecond=0)

    path = getattr(one_symbol.tv, f"to_{fmt}")()

    match = SEED_NAME.match(path.name)
    assert match is not None and (match["symbol"], match["tf"]) == ("aapl", "5m")
    assert path.suffix == f".{fmt}"
    stamp = datetime.strptime(path.name.split("_")[-1].split(".")[0], "%Y%m%d-%H%M%S")
    assert stamp.replace(tzinfo=timezone.utc) >= before
    assert path.parent == Path("export") and (tmp_path / path).is_file()


def test_a_folder_path_gets_the_seed_name(one_symbol: Frame, tmp_path: Path) -> None:
    path = one_symbol.tv.to_csv(tmp_path)

    assert path.parent == tmp_path and path.name.startswith("ohlcv_aapl_5m_")


def test_hostile_symbols_stay_inside_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    frame: Frame = bars_frame(
        [("../../x", sim_bars("NASDAQ:AAPL"))], "polars", meta=meta_for(["NASDAQ:AAPL"])
    )

    path = frame.tv.to_parquet()

    assert (tmp_path / path).resolve().parent == (tmp_path / "export").resolve()
    assert path.name.startswith("ohlcv_x_5m_")
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


@pytest.mark.parametrize(
    ("symbols", "label"),
    [
        (["NASDAQ:AAPL", "FX:EURUSD"], "aapl-eurusd"),
        (["NASDAQ:AAPL", "FX:EURUSD", "NASDAQ:MSFT", "BINANCE:BTCUSDT"], "4-symbols"),
    ],
)
def test_multi_symbol_file_names(symbols: list[str], label: str, tmp_path: Path) -> None:
    frame: Frame = bars_frame(
        [(s, sim_bars("FX:EURUSD")) for s in symbols], meta=meta_for(["FX:EURUSD"])
    )

    path = io.default_path(frame, "csv", datetime(2024, 1, 1, tzinfo=timezone.utc))

    assert path == Path("export") / f"ohlcv_{label}_5m_20240101-000000.csv"
