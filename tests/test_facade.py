"""tv.history through the sync facade and its async twin, pandas and polars."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import polars as pl
import pytest

import tvframe as tv
from tvframe.intervals import SEED_INTERVALS, parse_interval
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import find_symbol

COLUMNS = ["symbol", "open", "high", "low", "close", "volume"]


def check_invariants(df: pd.DataFrame, n: int) -> None:
    assert len(df) == n
    assert list(df.columns) == COLUMNS
    assert str(df.index.dtype) == "datetime64[us, UTC]"
    assert df.index.name == "time"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    for col in COLUMNS[1:]:
        assert df[col].dtype == np.float64
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    assert (df["volume"] >= 0).all()


@pytest.mark.parametrize("interval", SEED_INTERVALS)
def test_history_every_seed_interval_pandas(sim: SimHandle, interval: str) -> None:
    df = tv.history("BINANCE:BTCUSDT", interval, 300)
    assert isinstance(df, pd.DataFrame)
    check_invariants(df, 300)
    assert (df["symbol"] == "BINANCE:BTCUSDT").all()
    iv = parse_interval(interval)
    steps = np.diff(df.index.asi8) // 1_000_000  # microseconds -> seconds
    if iv.unit in ("m", "h", "d", "w"):
        assert (steps == iv.seconds).all()  # crypto trades around the clock
    else:  # months vary in length
        assert set(np.unique(steps)) <= {28 * 86400, 29 * 86400, 30 * 86400, 31 * 86400}


def test_stock_bars_step_by_the_interval_inside_sessions(sim: SimHandle) -> None:
    df = tv.history("NASDAQ:AAPL", "5m", 400)
    check_invariants(df, 400)
    local = df.index.tz_convert("America/New_York")
    assert ((local.hour * 60 + local.minute >= 9 * 60 + 30) & (local.hour < 16)).all()
    steps = np.diff(df.index.asi8) // 1_000_000
    same_day = np.diff(local.normalize().asi8) == 0
    assert (steps[same_day] == 300).all()


def test_history_polars_matches_pandas(sim: SimHandle) -> None:
    pdf = tv.history("NYSE:IBM", "1h", 200)
    pldf = tv.history("NYSE:IBM", "1h", 200, backend="polars")
    assert isinstance(pldf, pl.DataFrame)
    assert pldf.columns == ["time", *COLUMNS]
    assert pldf.schema["time"] == pl.Datetime("us", "UTC")
    assert all(pldf.schema[c] == pl.Float64 for c in COLUMNS[1:])
    back = pldf.to_pandas().set_index("time")
    pd.testing.assert_frame_equal(back, pdf, check_dtype=False, check_index_type=False)
    assert (back.index == pdf.index).all()


def test_history_equals_the_simulated_market(sim: SimHandle) -> None:
    df = tv.history("FX:EURUSD", "15m", 250)
    bars = sim.market.bars_before(
        find_symbol("FX:EURUSD"), "15", sim.clock.now() + 1e9, 250, now=sim.clock.now()
    )
    np.testing.assert_array_equal(df["close"].to_numpy(), bars.close)
    np.testing.assert_array_equal(df.index.asi8 // 1_000_000, bars.time.astype(np.int64))


def test_metadata_travels_in_attrs(sim: SimHandle) -> None:
    df = tv.history("NASDAQ:AAPL", "1d", 20)
    meta = df.attrs["tvframe"]
    info = meta["symbols"]["NASDAQ:AAPL"]
    assert info["symbol"] == "NASDAQ:AAPL"
    assert info["timezone"] == "America/New_York"
    assert info["currency"] == "USD"
    assert meta["interval"] == "1d"
    assert meta["tz"] == "UTC"


def test_calls_share_one_connection(sim: SimHandle) -> None:
    for symbol in ("NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:KO"):
        tv.history(symbol, "1d", 5)
    assert sim.stats.connections == 1


def test_sync_call_works_inside_a_running_event_loop(sim: SimHandle) -> None:
    """What a Jupyter cell does: a sync call while the kernel's loop runs."""

    async def cell() -> int:
        return len(tv.history("NASDAQ:AAPL", "5m", 50))

    assert asyncio.run(cell()) == 50


async def test_async_twin(sim: SimHandle) -> None:
    df = await tv.ahistory("NASDAQ:AAPL", "5m", 60, backend="polars")
    assert isinstance(df, pl.DataFrame) and df.height == 60


def test_sync_and_async_signatures_match() -> None:
    sync, async_ = inspect.signature(tv.history), inspect.signature(tv.ahistory)
    assert sync.parameters == async_.parameters
    assert sync.return_annotation == async_.return_annotation
    assert inspect.iscoroutinefunction(tv.ahistory)
    assert tv.history.__doc__ and tv.ahistory.__doc__


def test_bad_backend_is_named(sim: SimHandle) -> None:
    with pytest.raises(tv.InvalidArgumentError, match="'arrow'"):
        tv.history("NASDAQ:AAPL", "5m", 5, backend="arrow")


def test_one_loop_thread_for_many_calls(sim: SimHandle) -> None:
    tv.history("NASDAQ:AAPL", "5m", 5)
    before = {t.name for t in threading.enumerate() if t.name == "tvframe-loop"}
    tv.history("NASDAQ:MSFT", "5m", 5)
    after = [t for t in threading.enumerate() if t.name == "tvframe-loop"]
    assert before == {"tvframe-loop"} and len(after) == 1


def test_a_script_exits_cleanly_after_history() -> None:
    code = (
        "import tvframe as tv\n"
        "with tv.sim.running():\n"
        "    df = tv.history('NASDAQ:AAPL', '5m', 10)\n"
        "print(len(df))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "10"
    assert "Traceback" not in out.stderr and "Task was destroyed" not in out.stderr


def test_public_names_are_sorted_and_resolve() -> None:
    assert tv.__all__ == sorted(tv.__all__)
    for name in tv.__all__:
        assert getattr(tv, name) is not None


def test_no_submodule_shadows_a_public_name() -> None:
    """Importing every tvframe module first must not turn tv.quote (say) into a module.

    Python sets ``package.<submodule>`` on import, so a module named like a public function
    would replace it; run in a fresh interpreter where nothing was resolved yet.
    """
    code = (
        "import importlib, pkgutil, types, tvframe as tv\n"
        "for info in pkgutil.walk_packages(tv.__path__, 'tvframe.'):\n"
        "    if '.sim' not in info.name or info.name == 'tvframe.sim':\n"
        "        importlib.import_module(info.name)\n"
        "bad = [n for n in tv.__all__ if n not in ('protocol', 'realtime', 'sim')\n"
        "       and isinstance(getattr(tv, n), types.ModuleType)]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_each_call_has_its_own_timeout_on_the_pooled_socket(sim: SimHandle) -> None:
    tv.history("NASDAQ:AAPL", "1d", 5)  # the pooled client is made with the 30 s default
    sim.faults.silence()
    started = time.monotonic()
    with pytest.raises(tv.TvTimeoutError, match=r"after 0\.5s"):
        tv.history("NYSE:IBM", "1d", 5, timeout=0.5)
    assert time.monotonic() - started < 5
