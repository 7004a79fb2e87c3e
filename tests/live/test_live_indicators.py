"""LiveFrame with indicators against the simulator (manual clock): columns like history's, the
forming row's value moving with its bar, final values once closed, consistent snapshots.

Expected values come from tests/formulas.py over the bars the server computed on: the series
plus the simulator's ``study_extra_bars`` (100) before its first bar.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import polars as pl
import pytest

import tvframe as tv
from tests.formulas import rsi, sma
from tvframe.errors import InvalidArgumentError, StudyError
from tvframe.events import BarUpdate, IndicatorUpdate
from tvframe.liveframe import FrameUpdate, LiveFrame, alive, live
from tvframe.sim import SimHandle
from tvframe.studies import IndicatorLike

BTC, ETH = "BINANCE:BTCUSDT", "BINANCE:ETHUSDT"
EXTRA = 100  # the simulator's default study_extra_bars
MINUTE = 60.0


class Recorder:
    """An ``on_update`` that records what it is given; tests block on it instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[FrameUpdate] = []
        self._changed = threading.Condition()

    def __call__(self, update: FrameUpdate) -> None:
        with self._changed:
            self.items.append(update)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[FrameUpdate], bool], timeout: float = 10) -> None:
        """Until an update ``predicate`` accepts has come."""
        with self._changed:
            found = self._changed.wait_for(lambda: any(map(predicate, self.items)), timeout)
            assert found, self.items[-3:]

    def indicators(self) -> list[IndicatorUpdate]:
        with self._changed:
            return [u for u in self.items if isinstance(u, IndicatorUpdate)]


def forming_value_at(time: float) -> Callable[[FrameUpdate], bool]:
    return lambda u: isinstance(u, IndicatorUpdate) and u.time == time and not u.closed


@pytest.fixture
def frames() -> Iterator[list[LiveFrame]]:
    """LiveFrames a test opens; stopped even when it fails."""
    opened: list[LiveFrame] = []
    yield opened
    for lf in opened:
        lf.stop()


def seconds(index: pd.Index) -> np.ndarray:
    times = pd.DatetimeIndex(index.get_level_values("time"))
    result: np.ndarray = (times.asi8 // 1_000_000).astype(np.float64)
    return result


def reference(
    symbol: str, first: float, last: float, formula: Callable[[list[float]], list[float]]
) -> dict[float, float]:
    """``formula`` by bar time for the bars ``first`` .. ``last`` (the newest, forming) of a
    series starting at ``first``, over them and the ``EXTRA`` bars the server adds before."""
    count = EXTRA + int((last - first) // MINUTE) + 1
    bars = tv.history(symbol, "1m", count)
    assert isinstance(bars, pd.DataFrame)
    times = seconds(bars.index)
    assert times[EXTRA] == first and times[-1] == last  # 1m crypto: no gaps
    return dict(zip(times.tolist(), formula(bars["close"].tolist()), strict=True))


def rsi_14(close: list[float]) -> list[float]:
    return rsi(close, 14)


def sma_9(close: list[float]) -> list[float]:
    return sma(close, 9)


def assert_matches(df: pd.DataFrame, column: str, expected: dict[float, float]) -> None:
    got = df[column].to_numpy()
    want = np.array([expected[t] for t in seconds(df.index)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_the_history_fill_equals_history_with_the_indicators(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    recorder = Recorder()
    specs: list[IndicatorLike] = ["RSI", tv.indicator("SMA", length=5)]
    lf = live([BTC, ETH], "1m", 50, indicators=specs, on_update=recorder)
    frames.append(lf)
    df = lf.to_pandas()
    expected = tv.history([BTC, ETH], "1m", 50, indicators=specs, progress=False)
    assert isinstance(expected, pd.DataFrame)
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "rsi_14", "sma_5"]
    pd.testing.assert_frame_equal(df, expected)
    assert not df[["rsi_14", "sma_5"]].isna().any().any()
    polars = tv.history([BTC, ETH], "1m", 50, indicators=specs, backend="polars", progress=False)
    assert isinstance(polars, pl.DataFrame) and lf.to_polars().equals(polars)
    assert recorder.items == []  # the history fill is not a live change


def test_a_pine_indicator_gets_its_columns_where_history_puts_them(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    specs: list[IndicatorLike] = [tv.indicator("STD;RSI"), "SMA"]
    lf = live(BTC, "1m", 30, indicators=specs, backend="polars")
    frames.append(lf)
    df = lf.to_polars()
    expected = tv.history(BTC, "1m", 30, indicators=specs, backend="polars")
    assert isinstance(expected, pl.DataFrame)
    assert df.columns == expected.columns and df.columns[-2:] == ["std_rsi", "sma_9"]
    assert df.equals(expected)


def test_the_forming_row_moves_with_its_bar_then_its_closed_value_is_final(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    recorder = Recorder()
    lf = live(BTC, "1m", 30, indicators=["RSI"], on_update=recorder)
    frames.append(lf)
    before = lf.to_pandas()
    first, forming = seconds(before.index)[[0, -1]]

    sim.advance(20)  # inside the same bar
    recorder.wait_for(forming_value_at(forming))
    during = lf.to_pandas()
    assert len(during) == 30 and during["rsi_14"].iloc[-1] != before["rsi_14"].iloc[-1]
    pd.testing.assert_frame_equal(during.iloc[:-1], before.iloc[:-1])
    assert_matches(during, "rsi_14", reference(BTC, first, forming, rsi_14))

    sim.advance(60)  # the bar closes; the next one forms
    lf.wait(bars=1, timeout=10)  # returns once the closed bar's value is final
    closed = lf.to_pandas().iloc[:-1]
    recorder.wait_for(forming_value_at(forming + MINUTE))
    after = lf.to_pandas()
    expected = reference(BTC, first, forming + MINUTE, rsi_14)
    assert len(after) == 31
    assert_matches(after, "rsi_14", expected)
    pd.testing.assert_frame_equal(after.iloc[:-1], closed)
    assert after["rsi_14"].iloc[-1] != after["rsi_14"].iloc[-2]

    updates = recorder.items
    values = recorder.indicators()
    assert [(u.time, u.closed) for u in values if u.closed] == [(forming, True)]  # once
    for update in values:  # each value follows an update of its own bar
        bars = updates[: updates.index(update)]
        assert any(isinstance(b, BarUpdate) and b.bar.time == update.time for b in bars)


def test_snapshots_never_show_a_value_of_another_bar(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    recorder = Recorder()
    # max_bars: trimmed rows' storage is reused, so a value left over from a dropped bar
    # would show.
    lf = live(BTC, "1m", 20, max_bars=24, indicators=["RSI"], on_update=recorder)
    frames.append(lf)
    initial = lf.to_pandas()
    first = seconds(initial.index)[0]
    done = threading.Event()
    snapshots: list[tuple[np.ndarray, np.ndarray]] = []

    def read() -> None:
        while not done.is_set():
            df = lf.to_pandas()
            snapshots.append((seconds(df.index), df["rsi_14"].to_numpy()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(40):
            sim.advance(15)  # 10 bars, each changed three times before it closes
        lf.wait(bars=10, timeout=10)
        last = first + (20 - 1 + 10) * MINUTE
        recorder.wait_for(forming_value_at(last))
    finally:
        done.set()
        reader.join()

    expected = reference(BTC, first, last, rsi_14)
    # What a row may show: its bar's final value, or a value the server sent for its bar.
    sent: dict[float, set[float]] = {}
    for update in recorder.indicators():
        sent.setdefault(update.time, set()).add(update.values["rsi_14"])
    sent.setdefault(seconds(initial.index)[-1], set()).add(initial["rsi_14"].iloc[-1])
    wrong = [
        (t, v)
        for times, values in snapshots
        for t, v in zip(times.tolist(), values.tolist(), strict=True)
        if not (math.isnan(v) or v in sent.get(t, ()) or abs(v - expected[t]) <= 1e-9)
    ]
    assert len(snapshots) > 1 and not wrong, wrong[:3]
    final = lf.to_pandas()
    assert len(final) == 24
    assert_matches(final, "rsi_14", expected)


def test_max_bars_keeps_the_indicator_columns_aligned(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    recorder = Recorder()
    opened: list[LiveFrame] = []
    seen: set[float] = set()
    new_rows: list[tuple[float, float, float]] = []  # (bar time, row time, its rsi_14)

    def on_update(update: FrameUpdate) -> None:
        # Called as each update is applied: a bar seen for the first time has no value yet.
        if opened and isinstance(update, BarUpdate) and update.bar.time not in seen:
            seen.add(update.bar.time)
            row = opened[0].to_pandas().iloc[-1:]
            new_rows.append((update.bar.time, seconds(row.index)[0], row["rsi_14"].iloc[0]))
        recorder(update)

    lf = live(BTC, "1m", 10, max_bars=12, indicators=["RSI", "SMA"], on_update=on_update)
    frames.append(lf)
    seen.update(seconds(lf.to_pandas().index).tolist())
    opened.append(lf)
    first = min(seen)
    bars = 80  # past the initial capacity: the storage is compacted with the rows dropped
    sim.advance(bars * MINUTE)
    lf.wait(bars=bars, timeout=20)
    last = first + (10 - 1 + bars) * MINUTE
    recorder.wait_for(forming_value_at(last))
    assert len(new_rows) == bars
    assert all(t == row and math.isnan(v) for t, row, v in new_rows), new_rows[-3:]
    df = lf.to_pandas()
    assert len(df) == 12 and seconds(df.index)[-1] == last
    assert_matches(df, "rsi_14", reference(BTC, first, last, rsi_14))
    assert_matches(df, "sma_9", reference(BTC, first, last, sma_9))


def test_a_reconnect_leaves_no_hole_in_the_closed_rows(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    recorder = Recorder()
    errors: list[Exception] = []
    lf = live([BTC, ETH], "1m", 5, indicators=["RSI", "SMA"], on_update=recorder,
              on_error=errors.append)  # fmt: skip
    frames.append(lf)
    first = seconds(lf.to_pandas().index)[0]
    sim.advance(90)  # half-way through a bar
    sim.faults.drop()
    sim.advance(150)  # bars close while the socket is down (or just back)
    lf.wait(bars=4, timeout=20)
    assert sim.stats.drops == 1 and sim.stats.messages["create_study"] >= 8
    df = lf.to_pandas()
    last_closed = sim.clock.now() - 60
    for symbol in (BTC, ETH):
        rows = df.loc[[symbol]]
        closed = rows[seconds(rows.index) <= last_closed]
        assert len(closed) == 5 - 1 + 4
        assert not closed[["rsi_14", "sma_9"]].isna().any().any()
        # SMA depends on its window only, so values computed after the reconnect (over the
        # reloaded series) still equal the reference computed from the first series.
        expected = reference(symbol, first, last_closed + MINUTE, sma_9)
        assert_matches(closed, "sma_9", expected)
        for name in ("rsi_14", "sma_9"):
            times = [u.time for u in recorder.indicators()
                     if u.closed and u.symbol == symbol and name in u.values]  # fmt: skip
            assert times == sorted(set(times))  # each final value once, in order
    assert not errors and lf.running


async def test_updates_yield_indicator_values_and_coalesce_forming_ones(sim: SimHandle) -> None:
    async with await alive(BTC, "1m", 5, indicators=["RSI"]) as lf:
        forming = seconds(lf.to_pandas().index)[-1]
        updates = lf.updates()
        sim.advance(20)
        sim.advance(20)  # nobody reads: both changes of the forming bar fold
        sim.advance(60)  # the bar closes, the next forms
        await lf.await_bars(1, timeout=10)
        got: list[FrameUpdate] = []
        while not got or not forming_value_at(forming + MINUTE)(got[-1]):
            got.append(await asyncio.wait_for(updates.__anext__(), 10))
        df = lf.to_pandas()
    shape = [(type(u).__name__, (u.bar.time if isinstance(u, BarUpdate) else u.time) - forming,
              u.closed) for u in got]  # fmt: skip
    assert shape == [
        ("BarUpdate", 0, True), ("IndicatorUpdate", 0, True),
        ("BarUpdate", 60, False), ("IndicatorUpdate", 60, False),
    ]  # fmt: skip
    values = [u.values["rsi_14"] for u in got if isinstance(u, IndicatorUpdate)]
    assert values == df["rsi_14"].iloc[-2:].tolist()


def test_the_notebook_view_shows_the_indicator_columns(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    for backend in ("pandas", "polars"):
        lf = live(BTC, "1m", 30, indicators=["RSI"], backend=backend, refresh=0.01)
        frames.append(lf)
        html = lf._repr_html_()
        newest = lf.to_pandas()["rsi_14"].iloc[-1]
        assert "<table" in html and "rsi_14" in html and f"{newest:.3f}"[:5] in html


@pytest.mark.parametrize(
    ("indicators", "named"),
    [
        (["Nope"], "Nope"),
        (["RSI", tv.indicator("RSI", length=14)], "'rsi_14'"),
        ([14], r"tvframe\.indicator"),
    ],
)
def test_bad_indicators_are_named_before_any_connection(
    sim: SimHandle, indicators: list[object], named: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=named):
        live(BTC, "1m", 10, indicators=indicators)  # type: ignore[arg-type]
    assert sim.stats.connections == 0


def test_an_indicator_the_server_refuses_raises_study_error(sim: SimHandle) -> None:
    with pytest.raises(StudyError, match="Nope@tv-basicstudies-1"):
        live(BTC, "1m", 5, indicators=[tv.indicator("Nope@tv-basicstudies-1")])
