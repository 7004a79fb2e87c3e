"""The fast paths of the hot loops give exactly what the general paths give.

``bar_rows`` (live updates of one or two bars, already in order) against ``merge_bars``;
``_bars``' few bars kept as rows against the many-rows numpy columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tvframe.bars import bar_rows, merge_bars
from tvframe.protocol.events import Bars, TimescaleUpdate
from tvframe.protocol.messages import decode_message


def _chunk(times: list[float], tag: float = 0.0, *, as_rows: bool = False) -> Bars:
    n = len(times)
    close = np.arange(n, dtype=np.float64) + tag
    if as_rows:  # as a live update holds them: rows of 5 values, volume missing
        rows = [(t, *[float(c)] * 4) for t, c in zip(times, close, strict=True)]
        return Bars.from_rows(range(n), rows)
    return Bars(np.arange(n), np.array(times, dtype=np.float64), *[close] * 5)


def _merged_rows(chunks: list[Bars]) -> list[tuple[float, ...]]:
    merged = merge_bars(chunks)
    return list(zip(*(getattr(merged, c).tolist() for c in _COLS), strict=True))


_COLS = ("time", "open", "high", "low", "close", "volume")


def test_one_ordered_chunk_is_read_as_it_is() -> None:
    chunk = _chunk([60.0, 120.0])
    assert bar_rows([chunk]) == [(60.0, 0.0, 0.0, 0.0, 0.0, 0.0), (120.0, 1.0, 1.0, 1.0, 1.0, 1.0)]


def test_out_of_order_and_duplicate_bars_are_merged_the_last_winning() -> None:
    # A push that sends its du newest first, then a newer state of the older bar.
    chunks = [_chunk([120.0], tag=10.0), _chunk([60.0], tag=20.0), _chunk([60.0], tag=30.0)]
    rows = bar_rows(chunks)
    assert [r[0] for r in rows] == [60.0, 120.0]
    assert [r[4] for r in rows] == [30.0, 10.0]


def test_a_repeated_time_inside_one_chunk_keeps_the_later_bar() -> None:
    rows = bar_rows([_chunk([60.0, 60.0], tag=5.0)])
    assert rows == [(60.0, 6.0, 6.0, 6.0, 6.0, 6.0)]


def test_no_bars() -> None:
    assert bar_rows([]) == []
    assert bar_rows([Bars.empty()]) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(min_value=0, max_value=6).map(lambda m: 60.0 * m), max_size=4),
            st.booleans(),
        ),
        max_size=4,
    )
)
def test_rows_always_equal_the_general_merge(chunk_specs: list[tuple[list[float], bool]]) -> None:
    chunks = [
        _chunk(times, tag=100.0 * k, as_rows=as_rows)
        for k, (times, as_rows) in enumerate(chunk_specs)
    ]
    assert _same(bar_rows(chunks), _merged_rows(chunks))


def _same(a: Sequence[tuple[float, ...]], b: Sequence[tuple[float, ...]]) -> bool:
    """Equal rows, NaN equal to NaN (a missing volume)."""
    return np.array_equal(np.array(a, dtype=float), np.array(b, dtype=float), equal_nan=True)


def test_many_rows_out_of_order_go_through_the_general_merge() -> None:
    times = [60.0 * ((7 * k) % 5001) for k in range(5001)]  # > 4096 rows, out of order
    for chunks in ([_chunk(times)], [_chunk(times[:2500]), _chunk(times[2500:], as_rows=True)]):
        rows = bar_rows(chunks)
        assert _same(rows, _merged_rows(chunks)) and len(rows) == 5001


def test_merge_of_one_ordered_chunk_reindexes_it() -> None:
    chunk = Bars(np.array([-5, -4]), np.array([60.0, 120.0]), *[np.ones(2)] * 5)
    merged = merge_bars([chunk])
    assert merged.index.tolist() == [0, 1]
    assert merged.time.tolist() == [60.0, 120.0]


# --- _bars: few rows and many rows give the same columns ----------------------------------


def _points(n: int, width: int) -> Iterator[dict[str, object]]:
    for i in range(n):
        yield {"i": i, "v": [60 * i, 1.5 + i, 2, 0.5, 1.25, 10 * i][:width]}


def _decoded(n: int, width: int) -> Bars:
    payload = {"m": "timescale_update", "p": ["cs", {"sds_1": {"s": list(_points(n, width))}}]}
    event = decode_message(orjson.dumps(payload).decode())
    assert isinstance(event, TimescaleUpdate)
    return event.series[0].bars


def test_few_and_many_rows_give_the_same_contiguous_float_columns() -> None:
    for width in (5, 6):
        few, many = _decoded(2, width), _decoded(40, width)
        for name in _COLS:
            a, b = getattr(few, name), getattr(many, name)
            assert a.dtype == b.dtype == np.float64
            assert a.flags.c_contiguous and b.flags.c_contiguous
            if name == "volume" and width == 5:
                assert np.isnan(a).all() and np.isnan(b).all()
            else:
                assert a.tolist() == b[:2].tolist()
        assert few.index.dtype == np.int64 and few.index.tolist() == [0, 1]
    assert _decoded(1, 6).volume.tolist() == [0.0]
    assert _decoded(2, 6).time.tolist() == [0.0, 60.0]
