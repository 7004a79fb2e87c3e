"""The (symbol, time) index is built from codes; it must equal what pandas builds from rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

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


def _rows() -> tuple[np.ndarray, pd.DatetimeIndex]:
    symbols = np.repeat(np.array([s for s, _ in _PARTS], dtype=object), [len(b) for _, b in _PARTS])
    seconds = np.concatenate([b.time for _, b in _PARTS]).astype("datetime64[s]")
    return symbols, pd.DatetimeIndex(seconds.astype("datetime64[us]"), name="time").tz_localize(
        "UTC"
    )


def test_the_multi_index_equals_pandas_from_arrays() -> None:
    symbols, times = _rows()
    expected = pd.MultiIndex.from_arrays(
        [pd.array(symbols, dtype="string"), times], names=["symbol", "time"]
    )
    index = bars_frame(_PARTS).index
    pd.testing.assert_index_equal(index, expected, exact=True)
    assert [level.tolist() for level in index.levels] == [
        level.tolist() for level in expected.levels
    ]
    assert index.levels[0].tolist() == ["A:X", "B:Y"]  # C:Z had no rows


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
