"""The (symbol, time) index is built from codes; it must equal what pandas builds from rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tvframe.frames import bars_frame
from tvframe.protocol import Bars


def _bars(first: float, n: int) -> Bars:
    times = first + 60.0 * np.arange(n)
    return Bars(np.arange(n), times, *[np.arange(n, dtype=np.float64)] * 5)


# Out of order, a symbol twice, an empty part, overlapping times: what a many-symbol call
# or a user's list may hold.
_PARTS = [
    ("B:Y", _bars(0, 4)),
    ("A:X", _bars(120, 3)),
    ("C:Z", _bars(0, 0)),
    ("B:Y", _bars(600, 2)),
]


# Symbols of one market: the same times, and one that started later; times in a zone.
_SHARED = [
    ("A:X", _bars(0, 5)),
    ("B:Y", _bars(0, 5)),
    ("C:Z", _bars(120, 3)),
    ("D:W", _bars(0, 5)),
]


def _rows(parts: list[tuple[str, Bars]] = _PARTS) -> tuple[np.ndarray, pd.DatetimeIndex]:
    symbols = np.repeat(np.array([s for s, _ in parts], dtype=object), [len(b) for _, b in parts])
    seconds = np.concatenate([b.time for _, b in parts]).astype("datetime64[s]")
    return symbols, pd.DatetimeIndex(seconds.astype("datetime64[us]"), name="time").tz_localize(
        "UTC"
    )


@pytest.mark.parametrize(("parts", "tz"), [(_PARTS, "UTC"), (_SHARED, "America/New_York")])
def test_the_multi_index_equals_pandas_from_arrays(parts: list[tuple[str, Bars]], tz: str) -> None:
    symbols, times = _rows(parts)
    expected = pd.MultiIndex.from_arrays(
        [pd.array(symbols, dtype="string"), times.tz_convert(tz)], names=["symbol", "time"]
    )
    frame = bars_frame(parts, tz=tz)
    pd.testing.assert_index_equal(frame.index, expected, exact=True)
    assert [level.tolist() for level in frame.index.levels] == [
        level.tolist() for level in expected.levels
    ]
    values = np.concatenate([b.close for _, b in parts])
    assert frame["close"].tolist() == values.tolist()


def test_a_symbol_without_rows_leaves_no_level_value() -> None:
    assert bars_frame(_PARTS).index.levels[0].tolist() == ["A:X", "B:Y"]  # C:Z had no rows


def test_the_symbol_column_equals_one_string_per_row() -> None:
    symbols, times = _rows()
    single = bars_frame(_PARTS[:1])
    pd.testing.assert_extension_array_equal(
        single["symbol"].array, pd.array(symbols[:4], dtype="string")
    )
    polars = bars_frame(_PARTS, "polars")
    assert polars["symbol"].dtype == pl.String
    assert polars["symbol"].to_list() == symbols.tolist()
    assert polars["time"].to_list() == times.to_pydatetime().tolist()
