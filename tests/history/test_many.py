"""tv.history for real work: many symbols, date ranges, zones, sessions, failures, progress."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import polars as pl
import pytest

import tvframe as tv
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import find_symbol, universe

DAY = 86400


def test_many_symbols_in_one_call_equal_single_calls(sim: SimHandle) -> None:
    symbols = [s.full_name for s in universe(25)]
    many = tv.history(symbols, "5m", 5000, progress=False)
    assert sim.stats.connections == 1
    assert isinstance(many, pd.DataFrame)
    assert many.index.names == ["symbol", "time"]
    assert list(many.index.get_level_values("symbol").unique()) == symbols  # order kept
    assert len(many) == 25 * 5000
    for symbol in symbols:
        single = tv.history(symbol, "5m", 5000)
        part = many.xs(symbol, level="symbol")
        pd.testing.assert_frame_equal(part, single.drop(columns="symbol"))
    assert set(many.attrs["tvframe"]["symbols"]) == set(symbols)


def test_many_symbols_polars_shape(sim: SimHandle) -> None:
    symbols = ["NASDAQ:AAPL", "BINANCE:BTCUSDT", "FX:EURUSD"]
    df = tv.history(symbols, "1h", 100, backend="polars", progress=False)
    assert isinstance(df, pl.DataFrame)
    assert df.columns == ["time", "symbol", "open", "high", "low", "close", "volume"]
    assert df.schema["time"] == pl.Datetime("us", "UTC")
    assert df["symbol"].unique(maintain_order=True).to_list() == symbols
    assert df.group_by("symbol").len()["len"].to_list() == [100] * 3
    pdf = tv.history(symbols, "1h", 100, progress=False)
    np.testing.assert_array_equal(df["close"].to_numpy(), pdf["close"].to_numpy())


def test_a_list_of_one_symbol_keeps_the_multi_shape(sim: SimHandle) -> None:
    df = tv.history(["NYSE:IBM"], "1d", 10)
    assert df.index.names == ["symbol", "time"] and len(df) == 10


def _expected(sim: SimHandle, symbol: str, resolution: str, start: float, end: float) -> object:
    return sim.market.bars_between(find_symbol(symbol), resolution, start, end, now=sim.clock.now())


def test_start_and_end_select_exactly_the_window(sim: SimHandle) -> None:
    now = sim.clock.now()
    start, end = now - 20 * DAY, now - 5 * DAY
    df = tv.history(
        "NASDAQ:AAPL",
        "15m",
        start=datetime.fromtimestamp(start, timezone.utc),
        end=pd.Timestamp(end, unit="s", tz="UTC"),
    )
    want = _expected(sim, "NASDAQ:AAPL", "15", start, end)
    times = df.index.asi8 // 1_000_000
    np.testing.assert_array_equal(times, want.time.astype(np.int64))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(df["close"].to_numpy(), want.close)  # type: ignore[attr-defined]
    assert times[0] >= start and times[-1] < end


def test_start_pages_back_past_one_request(sim: SimHandle) -> None:
    """30 days of 1-minute crypto bars are 43 200 bars: nine pages of the simulator's 5 000."""
    with tv.sim.running(max_depth=100_000) as deep:
        now = deep.clock.now()
        start = now - 30 * DAY
        df = tv.history("BINANCE:BTCUSDT", "1m", start=start, backend="polars")
        assert df.height == 30 * 1440 + 1  # the forming bar at `now` included
        want = deep.market.bars_between(
            find_symbol("BINANCE:BTCUSDT"), "1", start, now + 1, now=now
        )
        np.testing.assert_array_equal(df["close"].to_numpy(), want.close)
        assert deep.stats.messages["request_more_data"] >= 8


def test_start_beyond_the_depth_warns_with_what_exists(sim: SimHandle) -> None:
    now = sim.clock.now()
    with pytest.warns(tv.ShortHistoryWarning, match="reaches back to"):
        df = tv.history("BINANCE:BTCUSDT", "1m", start=now - 30 * DAY)
    assert len(df) == 5000  # the simulator's free-plan depth


def test_end_with_n_bars_counts_back_from_end(sim: SimHandle) -> None:
    end = sim.clock.now() - 3 * DAY
    df = tv.history("FX:EURUSD", "1h", 48, end=end)
    assert len(df) == 48
    assert df.index[-1].timestamp() < end
    want = sim.market.bars_before(find_symbol("FX:EURUSD"), "60", end, 48, now=sim.clock.now())
    np.testing.assert_array_equal(df["open"].to_numpy(), want.open)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"n_bars": 10, "start": "2026-01-01"}, "n_bars=10"),
        ({"start": "yesterday"}, "'yesterday'"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "'2026-02-01'"),
        ({"end": float("nan")}, "end=nan"),
        ({"tz": "Mars/Olympus"}, "'Mars/Olympus'"),
        ({"errors": "skip"}, "'skip'"),
        ({"session": "overnight"}, "'overnight'"),
        ({"adjustment": "none"}, "'none'"),
    ],
)
def test_bad_arguments_are_named_before_any_connection(
    sim: SimHandle, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(tv.InvalidArgumentError, match=named.replace("(", r"\(")):
        tv.history(["NASDAQ:AAPL", "NYSE:IBM"], "1h", **kwargs)  # type: ignore[arg-type]
    assert sim.stats.connections == 0


def test_malformed_symbols_are_all_named_before_any_connection(sim: SimHandle) -> None:
    with pytest.raises(tv.InvalidSymbolError) as info:
        tv.history(["NASDAQ:AAPL", "no colon", ":X"], "1h", 10)
    assert info.value.symbols == ["no colon", ":X"]
    assert sim.stats.connections == 0


def test_tz_exchange_and_iana_names(sim: SimHandle) -> None:
    utc = tv.history("NASDAQ:AAPL", "1h", 50)
    local = tv.history("NASDAQ:AAPL", "1h", 50, tz="exchange")
    assert str(local.index.dtype) == "datetime64[us, America/New_York]"
    assert (local.index == utc.index).all()  # the same instants
    assert local.attrs["tvframe"]["tz"] == "America/New_York"
    tokyo = tv.history(
        ["NASDAQ:AAPL", "BINANCE:BTCUSDT"], "1h", 5, tz="Asia/Tokyo", backend="polars"
    )
    assert tokyo.schema["time"] == pl.Datetime("us", "Asia/Tokyo")


def test_tz_exchange_refuses_symbols_of_several_zones(sim: SimHandle) -> None:
    with pytest.raises(tv.InvalidArgumentError, match="NASDAQ:AAPL=America/New_York"):
        tv.history(["NASDAQ:AAPL", "XETR:SAP"], "1h", 5, tz="exchange")


def test_extended_session_adds_pre_and_post_market_bars(sim: SimHandle) -> None:
    regular = tv.history("NASDAQ:AAPL", "1h", start=sim.clock.now() - 5 * DAY)
    extended = tv.history(
        "NASDAQ:AAPL", "1h", start=sim.clock.now() - 5 * DAY, session="extended", tz="exchange"
    )
    assert len(extended) > len(regular)
    hours = extended.index.hour
    assert (hours < 9).any() and (hours >= 16).any()


def test_unknown_symbols_raise_together_after_the_rest(sim: SimHandle) -> None:
    with pytest.raises(tv.InvalidSymbolError) as info:
        tv.history(["NASDAQ:AAPL", "NASDAQ:NOPE", "NYSE:NADA"], "1d", 5, progress=False)
    assert info.value.symbols == ["NASDAQ:NOPE", "NYSE:NADA"]
    assert "2 of 3 symbols failed" in str(info.value)


def test_one_unknown_symbol_raises_its_own_error(sim: SimHandle) -> None:
    with pytest.raises(tv.InvalidSymbolError, match="NASDAQ:NOPE"):
        tv.history("NASDAQ:NOPE", "1d", 5)


def test_errors_warn_returns_the_rest_and_records_failures(sim: SimHandle) -> None:
    with pytest.warns(tv.SymbolsFailedWarning, match="NASDAQ:NOPE"):
        df = tv.history(["NASDAQ:AAPL", "NASDAQ:NOPE"], "1d", 5, errors="warn")
    assert list(df.index.get_level_values("symbol").unique()) == ["NASDAQ:AAPL"]
    assert "NASDAQ:NOPE" in df.attrs["tvframe"]["failed"]


def test_errors_ignore_is_silent_but_records(sim: SimHandle) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = tv.history(["NASDAQ:NOPE", "NYSE:IBM"], "1d", 5, errors="ignore", backend="polars")
    assert df["symbol"].unique().to_list() == ["NYSE:IBM"]
    assert list(df.tv.meta.failed) == ["NASDAQ:NOPE"]


def test_progress_bar_on_request_and_silent_by_default(
    sim: SimHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    tv.history(["NASDAQ:AAPL", "NYSE:IBM"], "1d", 5)
    assert "symbol" not in capsys.readouterr().err  # stderr is not a terminal under pytest
    tv.history(["NASDAQ:AAPL", "NYSE:IBM"], "1d", 5, progress=True)
    err = capsys.readouterr().err
    assert "history 1d" in err and "2/2" in err


def test_a_window_starting_while_the_market_is_closed_is_not_short(sim: SimHandle) -> None:
    """Midnight UTC is before the NASDAQ open: the first bar comes later, nothing is missing."""
    midnight = (sim.clock.now() // DAY - 10) * DAY
    with warnings.catch_warnings():
        warnings.simplefilter("error", tv.ShortHistoryWarning)
        df = tv.history("NASDAQ:AAPL", "1h", start=midnight)
    assert df.index[0].timestamp() > midnight
