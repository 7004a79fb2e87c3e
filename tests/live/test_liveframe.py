"""LiveFrame against the simulator (manual clock): it fills, grows, survives drops and stops."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import polars as pl
import pytest

import tvframe as tv
from tvframe.errors import (
    DataNotFoundError,
    InvalidSymbolError,
    ShortHistoryWarning,
    TvFrameError,
    TvFrameValidationError,
    TvTimeoutError,
)
from tvframe.events import BarUpdate
from tvframe.liveframe import LiveFrame, alive, live
from tvframe.loop import shared_loop
from tvframe.meta import frame_meta
from tvframe.pool import shared_client
from tvframe.sim import SimHandle, running
from tvframe.sim.catalogue import SimSymbol, find_symbol

BTC, ETH = "BINANCE:BTCUSDT", "BINANCE:ETHUSDT"
PAIR = [BTC, ETH]
COLUMNS = ["open", "high", "low", "close", "volume"]


class Recorder:
    """A callback that records what it is given; tests block on it instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[BarUpdate] = []
        self._changed = threading.Condition()

    def __call__(self, update: BarUpdate) -> None:
        with self._changed:
            self.items.append(update)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[BarUpdate]], bool], timeout: float = 10) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.items), timeout), self.items[-3:]


@pytest.fixture
def frames() -> Iterator[list[LiveFrame]]:
    """LiveFrames a test opens; stopped even when it fails."""
    opened: list[LiveFrame] = []
    yield opened
    for lf in opened:
        lf.stop()


def sim_symbol(name: str) -> SimSymbol:
    found = find_symbol(name)
    assert found is not None
    return found


def market_rows(sim: SimHandle, symbol: str, start: float, end: float) -> np.ndarray:
    bars = sim.market.bars_between(sim_symbol(symbol), "1", start, end, now=sim.clock.now())
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def frame_rows(df: pd.DataFrame) -> np.ndarray:
    times = pd.DatetimeIndex(df.index.get_level_values("time"))
    seconds = (times.asi8 // 1_000_000).astype(np.float64)
    return np.column_stack([seconds, *(df[c].to_numpy() for c in COLUMNS)])


def check_rows(df: pd.DataFrame) -> None:
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()


def test_two_symbols_fill_then_grow_bar_for_bar_like_history(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    lf = live(PAIR, "1m", 50)
    frames.append(lf)
    first = lf.to_pandas()
    assert first.index.names == ["symbol", "time"] and len(first) == 100
    assert lf.symbols == PAIR and lf.running and not lf.failed
    k = 5
    sim.advance(k * 60)
    lf.wait(bars=k, timeout=10)
    df = lf.to_pandas()
    history = tv.history(PAIR, "1m", 50 + k)
    assert isinstance(history, pd.DataFrame)
    closed = 50 - 1 + k  # the history's forming bar closed, and k-1 more after it
    for symbol in PAIR:
        mine, theirs = df.loc[[symbol]].iloc[:closed], history.loc[[symbol]].iloc[:closed]
        pd.testing.assert_frame_equal(mine, theirs, check_like=False)
        # The loaded rows did not move: they are the first frame's rows, the forming one closed.
        pd.testing.assert_frame_equal(mine.iloc[:49], first.loc[[symbol]].iloc[:49])
    assert str(df.index.get_level_values("time").dtype) == "datetime64[us, UTC]"
    assert all(df[c].dtype == np.float64 for c in COLUMNS)
    meta = frame_meta(df)
    assert meta is not None and meta.interval == "1m" and list(meta.symbols) == PAIR
    assert meta.symbols[BTC].currency == "USDT"


def test_the_forming_bar_updates_in_place(sim: SimHandle, frames: list[LiveFrame]) -> None:
    recorder = Recorder()
    lf = live(BTC, "5m", 10, on_update=recorder)
    frames.append(lf)
    before = lf.to_pandas()
    sim.advance(60)  # still inside the same 5-minute bar
    recorder.wait_for(lambda items: len(items) == 1)
    after = lf.to_pandas()
    assert after.index.equals(before.index) and not recorder.items[0].closed
    pd.testing.assert_frame_equal(after.iloc[:-1], before.iloc[:-1])
    start = after.index[-1].timestamp()
    bars = sim.market.bars_between(sim_symbol(BTC), "5", start, start + 1, now=sim.clock.now())
    expected = [bars.open[0], bars.high[0], bars.low[0], bars.close[0], bars.volume[0]]
    assert after.iloc[-1][COLUMNS].tolist() == expected
    assert after.iloc[-1]["volume"] > before.iloc[-1]["volume"]


def test_snapshots_from_another_thread_are_always_consistent(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    lf = live(PAIR, "1m", 30)
    frames.append(lf)
    done = threading.Event()
    problems: list[str] = []
    counts: list[int] = []

    def read() -> None:
        last = 0
        while not done.is_set():
            df = lf.to_pandas()
            counts.append(len(df))
            try:
                check_rows(df)
            except AssertionError:
                problems.append("a row breaks low <= open, close <= high")
            for symbol in PAIR:
                times = df.loc[symbol].index
                if not (times.is_monotonic_increasing and times.is_unique):
                    problems.append(f"{symbol}: times do not strictly ascend")
            if len(df) < last:
                problems.append(f"rows went from {last} to {len(df)}")
            last = len(df)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(40):
            sim.advance(15)  # 10 bars, each changed three times before it closes
        lf.wait(bars=10, timeout=10)
    finally:
        done.set()
        reader.join()
    assert not problems, problems[:3]
    # The reader's last snapshot may predate wait()'s return: the rows are checked after it.
    assert len(counts) > 1 and len(lf.to_pandas()) >= 2 * (30 + 9)


def test_max_bars_keeps_exactly_the_newest(sim: SimHandle, frames: list[LiveFrame]) -> None:
    recorder = Recorder()
    lf = live(BTC, "1m", 10, max_bars=12, on_update=recorder)
    frames.append(lf)
    sim.advance(10 * 60)
    now = sim.clock.now()
    recorder.wait_for(lambda items: any(u.bar.time == now and not u.closed for u in items))
    df = lf.to_pandas()
    assert len(df) == 12
    np.testing.assert_array_equal(frame_rows(df), market_rows(sim, BTC, now - 11 * 60, now + 1))


def test_a_dropped_connection_leaves_no_gap_and_no_duplicate(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    errors: list[Exception] = []
    lf = live(PAIR, "1m", 5, on_error=errors.append)
    frames.append(lf)
    start = sim.clock.now() - 4 * 60
    sim.advance(90)  # half-way through a bar
    sim.faults.drop()
    sim.advance(150)  # bars close while the socket is down (or just back)
    lf.wait(bars=4, timeout=20)
    assert sim.stats.connections == 2 and sim.stats.drops == 1
    df = lf.to_pandas()
    last_closed = sim.clock.now() - 60
    for symbol in PAIR:
        rows = frame_rows(df.loc[[symbol]])
        closed = rows[rows[:, 0] <= last_closed]
        np.testing.assert_array_equal(closed, market_rows(sim, symbol, start, last_closed + 1))
        assert (np.diff(rows[:, 0]) == 60).all()  # no gap, no duplicate
    assert not errors and lf.running


def test_callbacks_fire_once_per_closed_bar_and_a_raising_one_does_not_stop_the_feed(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    bars, updates = Recorder(), Recorder()
    errors: list[Exception] = []

    def on_bar(update: BarUpdate) -> None:
        bars(update)
        if len(bars.items) == 1:
            raise RuntimeError("user bug")

    lf = live(PAIR, "1m", 20, on_bar=on_bar, on_update=updates, on_error=errors.append)
    frames.append(lf)
    assert not bars.items and not updates.items  # the history fill is not a live change
    t0 = sim.clock.now()
    sim.advance(3 * 60)
    lf.wait(bars=3, timeout=10)
    assert [type(e) for e in errors] == [RuntimeError] and lf.running
    sim.advance(60)
    lf.wait(bars=1, timeout=10)
    for symbol in PAIR:
        closed = [u for u in bars.items if u.symbol == symbol]
        assert all(u.closed for u in closed)
        assert [u.bar.time for u in closed] == [t0 + 60 * i for i in range(4)]
        assert [u.index for u in closed] == list(range(19, 23))
    assert {u.closed for u in updates.items} == {True, False}
    assert len(errors) == 1


def test_a_blocking_call_inside_a_callback_is_reported_not_deadlocked(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    errors: list[Exception] = []
    holder: list[LiveFrame] = []
    lf = live(BTC, "1m", 5, on_bar=lambda u: holder[0].wait(), on_error=errors.append)
    holder.append(lf)
    frames.append(lf)
    sim.advance(60)
    lf.wait(bars=1, timeout=10)
    assert len(errors) == 1 and isinstance(errors[0], TvFrameError)
    assert "event-loop thread" in str(errors[0]) and lf.running


def test_a_refused_symbol_is_reported_and_the_others_go_on(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    errors: list[Exception] = []
    lf = live(["NASDAQ:NOPE", BTC], "1m", 5, on_error=errors.append)
    frames.append(lf)
    assert lf.symbols == [BTC] and list(lf.failed) == ["NASDAQ:NOPE"]
    assert isinstance(lf.failed["NASDAQ:NOPE"], InvalidSymbolError)
    assert errors == [lf.failed["NASDAQ:NOPE"]]
    df = lf.to_pandas()
    assert set(df.index.get_level_values("symbol")) == {BTC} and len(df) == 5
    meta = frame_meta(df)
    assert meta is not None and "NASDAQ:NOPE" in meta.failed
    sim.advance(60)
    lf.wait(bars=1, timeout=10)  # only the streaming symbol counts


def test_a_short_history_warns_and_names_what_came() -> None:
    with running(max_depth=100):
        with pytest.warns(ShortHistoryWarning, match=f"{BTC} has 100"):
            lf = live([BTC, ETH], "1m", 300, max_bars=400)
        lf.stop()
    assert len(lf) == 200


def test_history_beyond_one_server_page_is_paged_in() -> None:
    with running(bars_per_request=100) as capped, warnings.catch_warnings():
        warnings.simplefilter("error", ShortHistoryWarning)
        with live(BTC, "1m", 350) as lf:
            df = lf.to_pandas()
        expected = tv.history(BTC, "1m", 350)
        assert capped.stats.messages["request_more_data"] >= 3
    assert len(df) == 350
    pd.testing.assert_frame_equal(df, expected, check_like=True)


def test_every_symbol_refused_raises(sim: SimHandle) -> None:
    with pytest.raises(InvalidSymbolError, match="NASDAQ:NOPE"):
        live("NASDAQ:NOPE", "1m", 5)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"symbols": "not a symbol"}, "not a symbol"),
        ({"interval": "7q"}, "7q"),
        ({"n_bars": 0}, "0"),
        ({"max_bars": 5}, "max_bars=5"),
        ({"backend": "arrow"}, "arrow"),
        ({"tz": "Mars/Base"}, "Mars/Base"),
        ({"session": "overnight"}, "overnight"),
        ({"adjustment": "none"}, "none"),
        ({"refresh": 0}, "refresh=0"),
        ({"on_bar": 42}, "42"),
    ],
)
def test_bad_input_is_named_before_any_network_call(
    sim: SimHandle, kwargs: dict[str, object], named: str
) -> None:
    args: dict[str, object] = {"symbols": BTC, "interval": "1m", "n_bars": 10, **kwargs}
    with pytest.raises(TvFrameValidationError, match=named):
        live(**args)  # type: ignore[arg-type]
    assert sim.stats.connections == 0


def test_stop_is_idempotent_leaves_no_task_and_keeps_the_data(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    loop = shared_loop()
    loop.run(shared_client(None, None, 30.0))  # the pooled socket's own tasks are the baseline

    async def tasks() -> set[str]:
        # By coroutine: the client's reader re-creates its recv task for every message.
        current = asyncio.current_task()
        return {
            getattr(t.get_coro(), "__qualname__", "?")
            for t in asyncio.all_tasks()
            if t is not current
        }

    baseline = loop.run(tasks())
    lf = live(PAIR, "1m", 10)
    frames.append(lf)
    assert loop.run(tasks()) - baseline == {"LiveFrame._consume"}
    sim.advance(60)
    lf.wait(bars=1, timeout=10)
    before = lf.to_pandas()
    lf.stop()
    lf.stop()
    assert not lf.running and lf.error is None
    assert loop.run(tasks()) == baseline
    pd.testing.assert_frame_equal(lf.to_pandas(), before)
    with pytest.raises(DataNotFoundError):
        lf.wait(bars=1)
    tv.history(PAIR[0], "1m", 1)  # a round trip on the same socket: the deletes were read
    assert sim.stats.messages["chart_delete_session"] >= 2  # the two series (and maybe history)


def test_wait_times_out(sim: SimHandle, frames: list[LiveFrame]) -> None:
    lf = live(BTC, "1m", 5)
    frames.append(lf)
    with pytest.raises(TvTimeoutError):
        lf.wait(bars=1, timeout=0.05)
    sim.advance(60)
    lf.wait(bars=1, timeout=10)  # the timed-out wait left nothing behind


def test_polars_and_exchange_time_zone(sim: SimHandle, frames: list[LiveFrame]) -> None:
    lf = live("NASDAQ:AAPL", "5m", 20, backend="polars", tz="exchange")
    frames.append(lf)
    df = lf.frame()
    assert isinstance(df, pl.DataFrame) and df.height == 20
    assert df.columns == ["time", "symbol", *COLUMNS]
    assert df.schema["time"] == pl.Datetime("us", "America/New_York")
    assert isinstance(lf.frame(backend="pandas"), pd.DataFrame)
    assert lf.to_polars().equals(df)
    meta = frame_meta(df)
    assert meta is not None and meta.tz == "America/New_York"


def test_repr_html_shows_the_newest_rows_throttled(sim: SimHandle, frames: list[LiveFrame]) -> None:
    lf = live(BTC, "1m", 30, refresh=3600.0)
    frames.append(lf)
    first = lf._repr_html_()
    assert "<table" in first and BTC in first and "running" in first
    newest = lf.to_pandas().index[-1]
    assert str(newest.tz_localize(None)) in first
    sim.advance(60)
    lf.wait(bars=1, timeout=10)
    assert lf._repr_html_() is first  # changed, but within the refresh interval
    assert BTC in repr(lf) and "running" in repr(lf)


class FakeHandle:
    def __init__(self) -> None:
        self.objects: list[object] = []
        self.updated = threading.Event()

    def update(self, obj: object) -> None:
        self.objects.append(obj)
        self.updated.set()


def test_show_refreshes_a_display_handle_from_the_loop(
    sim: SimHandle, frames: list[LiveFrame]
) -> None:
    handle = FakeHandle()
    shown: list[tuple[object, object]] = []

    def display(obj: object, display_id: object = None) -> FakeHandle:
        shown.append((obj, display_id))
        return handle

    lf = live(BTC, "1m", 5, refresh=0.01)
    frames.append(lf)
    assert lf.show(display=display) is handle
    assert len(shown) == 1 and shown[0][1] is True and lf.display_updates == 0
    assert "<table" in shown[0][0]._repr_html_()  # type: ignore[attr-defined]
    sim.advance(60)
    assert handle.updated.wait(10)
    assert lf.display_updates >= 1
    lf.stop()
    stopped = lf.display_updates
    assert "stopped" in repr(handle.objects[-1])  # the final state is shown when it stops
    assert stopped == len(handle.objects)


def test_ipython_display_uses_ipython_lazily(
    sim: SimHandle, frames: list[LiveFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    ipython_display = pytest.importorskip("IPython.display")
    handle = FakeHandle()
    calls: list[object] = []

    def display(obj: object, display_id: object = None) -> FakeHandle:
        calls.append(display_id)
        return handle

    monkeypatch.setattr(ipython_display, "display", display)
    lf = live(BTC, "1m", 5)
    frames.append(lf)
    lf._ipython_display_()
    assert calls == [True]


async def test_async_twin_context_manager_and_updates(sim: SimHandle) -> None:
    async with await alive(PAIR, "1m", 5) as lf:
        updates = lf.updates()
        sim.advance(2 * 60)
        await lf.await_bars(2, timeout=10)
        closed: list[BarUpdate] = []
        while len([u for u in closed if u.symbol == BTC]) < 2:
            update = await asyncio.wait_for(updates.__anext__(), 10)
            if update.closed:
                closed.append(update)
    assert not lf.running
    btc = [u.bar.time for u in closed if u.symbol == BTC]
    assert btc == [sim.clock.now() - 120, sim.clock.now() - 60]
    with pytest.raises(StopAsyncIteration):  # the iteration ends with the frame
        while True:
            await asyncio.wait_for(updates.__anext__(), 10)


async def test_updates_coalesce_forming_bars_and_never_drop_closed_ones(sim: SimHandle) -> None:
    async with await alive(BTC, "1m", 5) as lf:
        updates = lf.updates(max_backlog=3)
        for _ in range(3):
            sim.advance(20)  # forming updates, then the bar closes; nobody reads
        sim.advance(60 * 3)  # three more bars close
        await lf.await_bars(4, timeout=10)  # all of it reached the iterator
        got: list[BarUpdate] = []
        with pytest.raises(TvFrameError, match="fell 3 updates behind"):
            async for update in updates:
                got.append(update)
        sim.advance(60)
        await lf.await_bars(1, timeout=10)
        assert lf.running  # a slow iterator ends itself, not the feed
    t0 = got[0].bar.time
    assert [(u.bar.time - t0, u.closed) for u in got] == [(0, True), (60, True), (120, True)]


def test_sync_and_async_signatures_match() -> None:
    sync, async_ = inspect.signature(live), inspect.signature(alive)
    assert sync.parameters == async_.parameters
    assert sync.return_annotation == async_.return_annotation
    assert inspect.iscoroutinefunction(alive)
    assert live.__doc__ and alive.__doc__


def test_a_script_that_never_stops_its_liveframe_exits_cleanly() -> None:
    code = (
        "import tvframe as tv\n"
        "from tvframe.liveframe import live\n"
        "with tv.sim.running() as sim:\n"
        "    lf = live('BINANCE:BTCUSDT', '1m', 10, on_error=lambda e: print('error', e))\n"
        "    sim.advance(60)\n"
        "    lf.wait(bars=1, timeout=10)\n"
        "print(len(lf), lf.running)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["11", "True"]  # at exit, a stop and not an error
    assert "Traceback" not in out.stderr and "Task was destroyed" not in out.stderr
