"""BarBuffer: columnar storage, amortised growth, max_bars, whole-row snapshots across threads,
extra (indicator) columns that stay with their rows."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

from tvframe.buffer import BYTES_PER_BAR, BarBuffer
from tvframe.errors import InvalidArgumentError


def bar(t: float) -> tuple[float, float, float, float, float, float]:
    """A bar whose every value derives from its time, so a torn row is detectable."""
    return (t, t + 1.0, t + 3.0, t - 3.0, t + 2.0, 2.0 * t)


def test_append_update_and_upsert() -> None:
    buf = BarBuffer(capacity=2)
    buf.append(*bar(60.0))
    assert buf.upsert(*bar(120.0)) is True
    assert buf.upsert(120.0, 5.0, 9.0, 1.0, 7.0, 11.0) is False  # same time: in place
    buf.update_last(6.0, 9.5, 0.5, 8.0, 12.0)
    snap = buf.snapshot()
    assert len(buf) == 2 and buf.last_time == 120.0
    assert snap.time.tolist() == [60.0, 120.0]
    assert [snap.open[1], snap.high[1], snap.low[1], snap.close[1], snap.volume[1]] == [
        6.0, 9.5, 0.5, 8.0, 12.0
    ]  # fmt: skip
    assert snap.index.tolist() == [0, 1]
    assert all(col.dtype == np.float64 for col in (snap.time, snap.open, snap.volume))


def test_times_must_ascend() -> None:
    buf = BarBuffer()
    buf.append(*bar(120.0))
    with pytest.raises(ValueError, match=r"60\.0"):
        buf.append(*bar(60.0))
    with pytest.raises(ValueError, match=r"120\.0"):
        buf.append(*bar(120.0))
    with pytest.raises(ValueError):
        buf.upsert(*bar(60.0))
    assert buf.snapshot().time.tolist() == [120.0]


def test_update_last_on_empty_buffer_raises() -> None:
    with pytest.raises(IndexError):
        BarBuffer().update_last(1.0, 1.0, 1.0, 1.0, 1.0)
    assert BarBuffer().last_time is None


@pytest.mark.parametrize("max_bars", [0, -1, True])
def test_bad_max_bars_is_named(max_bars: int) -> None:
    with pytest.raises(InvalidArgumentError, match=repr(max_bars)):
        BarBuffer(max_bars)


def test_snapshot_is_a_copy() -> None:
    buf = BarBuffer()
    buf.append(*bar(60.0))
    snap = buf.snapshot()
    buf.update_last(0.0, 0.0, 0.0, 0.0, 0.0)
    assert snap.open[0] == 61.0


def test_a_million_appends_stay_within_the_memory_bound() -> None:
    n = 1_000_000
    buf = BarBuffer()
    for t in range(n):
        buf.append(float(t), 1.0, 2.0, 0.5, 1.5, 3.0)
    assert len(buf) == n
    assert buf.nbytes / n <= 2.5 * BYTES_PER_BAR
    assert n <= buf.capacity < 2 * n  # doubling: never more than twice what is stored
    snap = buf.snapshot(last=3)
    assert snap.time.tolist() == [n - 3.0, n - 2.0, n - 1.0]


def test_no_python_object_per_stored_bar() -> None:
    n = 100_000
    buf = BarBuffer()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for t in range(n):
            buf.append(float(t), 1.0, 2.0, 0.5, 1.5, 3.0)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Doubling holds at most 2x the payload; a tuple of floats per bar alone is over 2.5x.
    assert held <= 2 * BYTES_PER_BAR * n, f"{held / n:.1f} bytes per bar"


def test_max_bars_keeps_exactly_the_newest() -> None:
    buf = BarBuffer(max_bars=100)
    for t in range(10_000):
        buf.upsert(*bar(float(t)))
        buf.upsert(float(t), *bar(float(t))[1:])  # forming-bar update in place
    snap = buf.snapshot()
    assert snap.time.tolist() == [float(t) for t in range(9_900, 10_000)]
    np.testing.assert_array_equal(snap.close, snap.time + 2.0)
    # Compaction, not growth, makes room once the bound is reached.
    assert buf.capacity <= 4 * 100


def test_snapshots_from_another_thread_see_whole_rows() -> None:
    buf = BarBuffer(max_bars=5_000, capacity=4)
    done = threading.Event()
    problems: list[str] = []
    seen = {"snapshots": 0}

    def read() -> None:
        last_len = 0
        while not done.is_set():
            snap = buf.snapshot()
            seen["snapshots"] += 1
            lengths = {len(c) for c in (snap.time, snap.open, snap.high, snap.low, snap.close,
                                         snap.volume)}  # fmt: skip
            if len(lengths) != 1:
                problems.append(f"column lengths differ: {lengths}")
            if len(snap) and not np.array_equal(snap.close, snap.time + 2.0):
                problems.append("a row mixes two bars")
            if np.any(np.diff(snap.time) <= 0):
                problems.append("times do not strictly ascend")
            if len(snap) < last_len:
                problems.append("rows went missing")
            last_len = len(snap)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for t in range(20_000):
            buf.upsert(*bar(float(t)))
            buf.update_last(*bar(float(t))[1:])
    finally:
        done.set()
        reader.join()
    assert not problems, problems[:3]
    assert seen["snapshots"] > 1
    assert len(buf) == 5_000


def test_extra_columns_stay_with_their_rows_through_growth_and_compaction() -> None:
    buf = BarBuffer(max_bars=5, capacity=2, extra=["x"])
    for t in range(50):
        buf.upsert(*bar(float(t)))
        _, fresh = buf.snapshot_columns(last=1)
        # Storage rows are reused after compaction: a new bar must not show an old value.
        assert np.isnan(fresh["x"][0]), t
        assert buf.set_extra(float(t), {"x": 10.0 * t})
        if t:
            assert buf.set_extra(t - 1.0, {"x": 10.0 * (t - 1) + 1})  # an older row, by time
        bars, extra = buf.snapshot_columns()
        want = 10.0 * bars.time + 1
        want[-1] -= 1
        np.testing.assert_array_equal(extra["x"], want, err_msg=f"after bar {t}")
    assert bars.time.tolist() == [45.0, 46.0, 47.0, 48.0, 49.0]
    assert buf.capacity <= 4 * 5  # compacted, not grown without bound
    assert not buf.set_extra(44.0, {"x": 1.0})  # dropped by max_bars
    assert not buf.set_extra(50.0, {"x": 1.0})  # no such bar yet
    assert not buf.set_extra(45.5, {"x": 1.0})
    np.testing.assert_array_equal(buf.snapshot_columns()[1]["x"], extra["x"])


def test_extra_columns_added_later_are_nan_on_stored_rows() -> None:
    buf = BarBuffer(extra=["a"])
    for t in (60.0, 120.0):
        buf.append(*bar(t))
    buf.set_extra(60.0, {"a": 1.0})
    buf.add_columns(["b", "a", "b"])  # names it has are kept as they are
    buf.upsert(120.0, *bar(120.0)[1:])  # an in-place bar update keeps the row's values
    assert buf.extra_columns == ("a", "b")
    bars, extra = buf.snapshot_columns()
    assert bars.close.tolist() == [62.0, 122.0] and buf.snapshot().time.tolist() == [60.0, 120.0]
    np.testing.assert_array_equal(np.vstack(list(extra.values())), [[1.0, np.nan], [np.nan] * 2])
    assert buf.nbytes == 8 * 8 * buf.capacity  # six bar columns and two extra ones
    with pytest.raises(KeyError, match="nope"):
        buf.set_extra(120.0, {"a": 5.0, "nope": 1.0})
    assert np.isnan(buf.snapshot_columns()[1]["a"][1])  # nothing was written
    with pytest.raises(InvalidArgumentError, match="'close'"):
        buf.add_columns(["close"])
    assert buf.extra_columns == ("a", "b")


def test_snapshots_from_another_thread_never_pair_a_bar_with_another_bars_value() -> None:
    buf = BarBuffer(max_bars=500, capacity=4, extra=["x"])
    done = threading.Event()
    problems: list[str] = []
    seen = {"snapshots": 0}

    def read() -> None:
        while not done.is_set():
            bars, extra = buf.snapshot_columns()
            seen["snapshots"] += 1
            values = extra["x"]
            missing = np.isnan(values)
            if len(values) != len(bars) or not np.array_equal(
                values[~missing], bars.time[~missing] + 0.5
            ):
                problems.append("a value sits in another bar's row")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for t in range(20_000):
            buf.upsert(*bar(float(t)))
            buf.set_extra(float(t), {"x": t + 0.5})
    finally:
        done.set()
        reader.join()
    assert not problems, problems[:3]
    assert seen["snapshots"] > 1
    assert not np.isnan(buf.snapshot_columns()[1]["x"]).any()
