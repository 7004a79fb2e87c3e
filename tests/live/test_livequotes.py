"""LiveQuotes against the simulator (manual clock): it fills, follows the quote model and stops."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import pandas as pd
import polars as pl
import pytest

from tvframe.errors import InvalidSymbolError, TvFrameValidationError
from tvframe.events import QuoteUpdate
from tvframe.livequotes import LiveQuotes, alive_quotes, live_quotes
from tvframe.loop import shared_loop
from tvframe.meta import frame_meta
from tvframe.pool import shared_client
from tvframe.quotes import QUOTE_COLUMNS, quote
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import CATALOGUE
from tvframe.sim.quotes import quote_values

AAPL, BTC, GBP = "NASDAQ:AAPL", "BINANCE:BTCUSDT", "FX:GBPUSD"
THREE = [AAPL, BTC, GBP]  # all three trade at the simulator's start time
T = TypeVar("T")


class Recorder(Generic[T]):
    """A callback that records what it is given; tests block on it instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = threading.Condition()

    def __call__(self, item: T) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[T]], bool], timeout: float = 10) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.items), timeout), self.items[-3:]


class Updates(Recorder[QuoteUpdate]):
    """An ``on_update`` recorder."""

    def wait_until_time(self, symbols: list[str], now: float) -> None:
        """Until every symbol's quote of ``now`` came."""
        self.wait_for(lambda items: {u.symbol for u in items if u.quote["lp_time"] == now}
                      == set(symbols))  # fmt: skip


@pytest.fixture
def tables() -> Iterator[list[LiveQuotes]]:
    """LiveQuotes a test opens; stopped even when it fails."""
    opened: list[LiveQuotes] = []
    yield opened
    for lq in opened:
        lq.stop()


def model(sim: SimHandle, symbol: str) -> dict[str, Any]:
    """What the simulator's quote model holds for ``symbol`` at the clock's time."""
    return quote_values(CATALOGUE[symbol], sim.market, sim.clock.now(), sim.config.update_mode)


def test_three_symbols_follow_the_quote_model(sim: SimHandle, tables: list[LiveQuotes]) -> None:
    recorder = Updates()
    lq = live_quotes(THREE, on_update=recorder)
    tables.append(lq)
    first = lq.to_pandas()
    assert first["symbol"].tolist() == THREE and list(first.columns) == ["symbol", *QUOTE_COLUMNS]
    assert first["last"].tolist() == [model(sim, s)["lp"] for s in THREE]
    assert not recorder.items  # the first quotes are the fill, not live changes
    assert lq.symbols == THREE and lq.running and not lq.failed and len(lq) == 3
    now = sim.advance(60)
    recorder.wait_until_time(THREE, int(now))
    df = lq.to_pandas()
    expected = [model(sim, s) for s in THREE]
    assert df["last"].tolist() == [e["lp"] for e in expected]
    assert df["bid"].tolist() == [e["bid"] for e in expected]
    assert (df["time"] == pd.Timestamp(int(now), unit="s", tz="UTC")).all()
    assert df["last"].tolist() != first["last"].tolist()
    assert df["description"].tolist() == first["description"].tolist()  # statics stay
    meta = frame_meta(df)
    assert meta is not None and not meta.failed


def test_fields_polars_and_extended_session(sim: SimHandle, tables: list[LiveQuotes]) -> None:
    lq = live_quotes([BTC, AAPL], ["last", "timezone"], backend="polars", session="extended")
    tables.append(lq)
    df = lq.frame()
    assert isinstance(df, pl.DataFrame) and lq.columns == ["last", "timezone"]
    assert df.columns == ["symbol", "last", "timezone"]
    assert df["timezone"].to_list() == ["Etc/UTC", "America/New_York"]
    assert df["last"].to_list() == [model(sim, BTC)["lp"], model(sim, AAPL)["lp"]]
    assert lq.to_polars().equals(df)
    pdf = lq.frame(backend="pandas")
    assert isinstance(pdf, pd.DataFrame) and pdf["last"].tolist() == df["last"].to_list()


def test_snapshots_from_another_thread_are_always_consistent(
    sim: SimHandle, tables: list[LiveQuotes]
) -> None:
    recorder = Updates()
    lq = live_quotes(THREE, ["last", "bid", "ask", "time"], on_update=recorder)
    tables.append(lq)
    ticks = [CATALOGUE[s].minmov / CATALOGUE[s].pricescale for s in THREE]
    done = threading.Event()
    problems: list[str] = []
    snapshots: list[pd.DataFrame] = []

    def read() -> None:
        while not done.is_set():
            df = lq.to_pandas()
            snapshots.append(df)
            if df["symbol"].tolist() != THREE:
                problems.append(f"rows {df['symbol'].tolist()}")
            # bid and ask sit one tick around the last price of the same diff.
            mid = (df["bid"] + df["ask"]) / 2
            if not ((mid - df["last"]).abs() < pd.Series(ticks) / 2).all():
                problems.append(f"a torn row: {df.to_dict('records')}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(40):
            now = sim.advance(15)
        recorder.wait_until_time(THREE, int(now))
    finally:
        done.set()
        reader.join()
    assert not problems, problems[:3]
    assert len(snapshots) > 1
    times = pd.DataFrame([df["time"].tolist() for df in snapshots])
    assert times.apply(lambda column: column.is_monotonic_increasing).all()  # never back


def test_a_refused_symbol_is_reported_and_the_others_go_on(
    sim: SimHandle, tables: list[LiveQuotes]
) -> None:
    errors: list[Exception] = []
    recorder = Updates()
    lq = live_quotes(
        ["NASDAQ:NOPE", BTC], ["last", "time"], on_update=recorder, on_error=errors.append
    )
    tables.append(lq)
    assert lq.symbols == [BTC] and list(lq.failed) == ["NASDAQ:NOPE"]
    assert isinstance(lq.failed["NASDAQ:NOPE"], InvalidSymbolError)
    assert errors == [lq.failed["NASDAQ:NOPE"]]
    df = lq.to_pandas()
    assert df["symbol"].tolist() == [BTC]
    meta = frame_meta(df)
    assert meta is not None and "no_such_symbol" in meta.failed["NASDAQ:NOPE"]
    now = sim.advance(60)
    recorder.wait_until_time([BTC], int(now))
    assert lq.to_pandas()["last"].tolist() == [model(sim, BTC)["lp"]]
    assert "failed: NASDAQ:NOPE" in lq._repr_html_()


def test_a_dropped_connection_is_invisible(sim: SimHandle, tables: list[LiveQuotes]) -> None:
    recorder, errors = Updates(), Recorder[Exception]()
    lq = live_quotes(THREE, ["last", "time"], on_update=recorder, on_error=errors)
    tables.append(lq)
    sim.faults.drop()
    now = sim.advance(60)  # while the socket is down (or just back)
    recorder.wait_until_time(THREE, int(now))
    assert sim.stats.connections == 2 and sim.stats.drops == 1
    assert lq.to_pandas()["last"].tolist() == [model(sim, s)["lp"] for s in THREE]
    assert lq.running and not errors.items


def test_every_symbol_refused_raises(sim: SimHandle) -> None:
    with pytest.raises(InvalidSymbolError, match="NASDAQ:NOPE"):
        live_quotes(["NASDAQ:NOPE"])


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"symbols": "not a symbol"}, "not a symbol"),
        ({"fields": []}, "fields"),
        ({"fields": ["symbol"]}, "symbol"),
        ({"backend": "arrow"}, "arrow"),
        ({"session": "overnight"}, "overnight"),
        ({"refresh": 0}, "refresh=0"),
        ({"timeout": -1}, "timeout=-1"),
        ({"on_update": 42}, "42"),
    ],
)
def test_bad_input_is_named_before_any_network_call(
    sim: SimHandle, kwargs: dict[str, object], named: str
) -> None:
    args: dict[str, object] = {"symbols": BTC, **kwargs}
    with pytest.raises(TvFrameValidationError, match=named):
        live_quotes(**args)  # type: ignore[arg-type]
    assert sim.stats.connections == 0


def test_stop_is_idempotent_leaves_no_task_and_keeps_the_table(
    sim: SimHandle, tables: list[LiveQuotes]
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
    lq = live_quotes(THREE, "last")
    tables.append(lq)
    assert loop.run(tasks()) - baseline == {"LiveQuotes._consume"}
    before = lq.to_pandas()
    lq.stop()
    lq.stop()
    assert not lq.running and lq.error is None and "stopped" in repr(lq)
    assert loop.run(tasks()) == baseline
    pd.testing.assert_frame_equal(lq.to_pandas(), before)
    quote(BTC, "last")  # a round trip on the same socket: the server has read the delete
    assert sim.stats.messages["quote_delete_session"] >= 1
    assert sim.stats.messages["chart_create_session"] == 0  # quotes only


class FakeHandle:
    def __init__(self) -> None:
        self.objects: list[object] = []
        self.updated = threading.Event()

    def update(self, obj: object) -> None:
        self.objects.append(obj)
        self.updated.set()


def fake_display(handle: FakeHandle, shown: list[object]) -> Callable[..., FakeHandle]:
    def display(obj: object, display_id: object = None) -> FakeHandle:
        shown.append(obj)
        return handle

    return display


def test_display_refreshes_are_throttled(sim: SimHandle, tables: list[LiveQuotes]) -> None:
    recorder = Updates()
    lq = live_quotes(THREE, ["last", "time"], on_update=recorder, refresh=3600.0)
    tables.append(lq)
    first = lq._repr_html_()
    assert "<table" in first and BTC in first and "running" in first
    handle, shown = FakeHandle(), list[object]()
    assert lq.show(display=fake_display(handle, shown)) is handle and len(shown) == 1
    for _ in range(3):
        now = sim.advance(60)
    recorder.wait_until_time(THREE, int(now))
    assert lq._repr_html_() is first  # changed, but within the refresh interval
    assert lq.display_updates == 0 and not handle.objects
    lq.stop()
    assert lq.display_updates == 1  # the changes and the stop, shown once at the stop
    assert "stopped" in repr(handle.objects[-1])


def test_show_refreshes_a_display_handle_from_the_loop(
    sim: SimHandle, tables: list[LiveQuotes]
) -> None:
    lq = live_quotes(BTC, "last", refresh=0.01)
    tables.append(lq)
    handle, shown = FakeHandle(), list[object]()
    lq.show(display=fake_display(handle, shown))
    sim.advance(60)
    assert handle.updated.wait(10)
    assert lq.display_updates >= 1
    assert str(model(sim, BTC)["lp"]) in handle.objects[-1]._repr_html_()  # type: ignore[attr-defined]


async def test_async_twin_updates_coalesce_per_symbol(sim: SimHandle) -> None:
    recorder = Updates()
    async with await alive_quotes([BTC], ["last", "time", "bid_size"], on_update=recorder) as lq:
        updates = lq.updates()
        for _ in range(3):
            now = sim.advance(60)  # three diffs; nobody reads the iterator
        await asyncio.to_thread(recorder.wait_until_time, [BTC], int(now))
        assert updates.backlog == 1  # one unread update per symbol
        update = await asyncio.wait_for(updates.__anext__(), 10)
        assert update.quote == recorder.items[-1].quote
        assert update.changed == frozenset().union(*(u.changed for u in recorder.items))
        assert {"lp", "lp_time", "bid_size"} <= update.changed
    assert not lq.running
    with pytest.raises(StopAsyncIteration):  # the iteration ends with the table
        await asyncio.wait_for(updates.__anext__(), 10)


def test_a_raising_callback_is_reported_and_the_feed_goes_on(
    sim: SimHandle, tables: list[LiveQuotes]
) -> None:
    recorder, errors = Updates(), Recorder[Exception]()

    def on_update(update: QuoteUpdate) -> None:
        recorder(update)
        raise RuntimeError("user bug")

    lq = live_quotes(BTC, ["last", "time"], on_update=on_update, on_error=errors)
    tables.append(lq)
    for _ in range(2):
        now = sim.advance(60)
        recorder.wait_until_time([BTC], int(now))
    errors.wait_for(lambda items: len(items) == len(recorder.items))  # each one raised
    assert lq.running and len(recorder.items) == 2
    assert all(isinstance(e, RuntimeError) for e in errors.items)


def test_sync_and_async_signatures_match() -> None:
    sync, async_ = inspect.signature(live_quotes), inspect.signature(alive_quotes)
    assert sync.parameters == async_.parameters
    assert sync.return_annotation == async_.return_annotation
    assert inspect.iscoroutinefunction(alive_quotes)
    assert not inspect.iscoroutinefunction(live_quotes)
    assert live_quotes.__doc__ and alive_quotes.__doc__


def test_a_script_that_never_stops_its_table_exits_cleanly() -> None:
    code = (
        "import tvframe as tv\n"
        "from tvframe.livequotes import live_quotes\n"
        "with tv.sim.running() as sim:\n"
        "    lq = live_quotes('BINANCE:BTCUSDT', 'last', on_error=lambda e: print('error', e))\n"
        "print(len(lq), lq.running)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True"]  # at exit, a stop and not an error
    assert "Traceback" not in out.stderr and "Task was destroyed" not in out.stderr
