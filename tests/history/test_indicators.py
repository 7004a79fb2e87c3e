"""Indicators as columns: tv.history(indicators=...) and df.tv.join_indicator, pandas and polars.

Expected values are computed here from TradingView's published formulas (plain loops, not
tvframe's or the simulator's code), over the bars the server computed on: the series plus
the simulator's ``study_extra_bars`` (100) before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import tvframe as tv
from tests.formulas import rsi, sma
from tvframe.sim import SimHandle

EXTRA = 100  # the simulator's default study_extra_bars


def test_history_with_indicators_equals_the_published_formulas(sim: SimHandle) -> None:
    df = tv.history("NASDAQ:AAPL", "1h", 500, indicators=[tv.indicator("RSI", length=14), "SMA"])
    assert list(df.columns)[-2:] == ["rsi_14", "sma_9"]
    longer = tv.history("NASDAQ:AAPL", "1h", 500 + EXTRA)
    close = longer["close"].tolist()
    np.testing.assert_allclose(df["rsi_14"], rsi(close, 14)[EXTRA:], rtol=0, atol=1e-9)
    np.testing.assert_allclose(df["sma_9"], sma(close, 9)[EXTRA:], rtol=0, atol=1e-9)
    assert not df["rsi_14"].isna().any()  # the server's warm-up bars cover the start


def test_warm_up_rows_are_nan_not_zero() -> None:
    with tv.sim.running(study_extra_bars=0):
        df = tv.history("BINANCE:BTCUSDT", "1h", 60, indicators=["RSI"], backend="polars")
    values = df["rsi_14"].to_numpy()
    assert np.isnan(values[:14]).all()  # no change before bar 1, then 14 changes to average
    assert not np.isnan(values[14:]).any() and (values[14:] > 0).all()


def test_many_symbols_each_get_their_own_values(sim: SimHandle) -> None:
    symbols = ["NASDAQ:AAPL", "BINANCE:BTCUSDT"]
    many = tv.history(symbols, "1d", 50, indicators=["EMA"], progress=False)
    for symbol in symbols:
        one = tv.history(symbol, "1d", 50, indicators=["EMA"])
        np.testing.assert_array_equal(many.xs(symbol, level="symbol")["ema_9"], one["ema_9"])


def test_join_indicator_equals_fetching_with_the_indicator(sim: SimHandle) -> None:
    df = tv.history("NYSE:IBM", "1h", 200)
    joined = df.tv.join_indicator("RSI", length=14)
    assert "rsi_14" not in df.columns  # the frame itself is not touched
    start, end = df.index[0], df.index[-1] + pd.Timedelta(seconds=1)
    direct = tv.history("NYSE:IBM", "1h", start=start, end=end, indicators=["RSI"])
    pd.testing.assert_series_equal(joined["rsi_14"], direct["rsi_14"])
    pd.testing.assert_frame_equal(joined.drop(columns="rsi_14"), df)
    assert joined.attrs["tvframe"] == df.attrs["tvframe"]


def test_join_several_indicators_on_a_polars_frame_of_many_symbols(sim: SimHandle) -> None:
    df = tv.history(["NASDAQ:AAPL", "NYSE:IBM"], "1d", 40, backend="polars", progress=False)
    joined = df.tv.join_indicator(tv.indicator("MACD"), "BB")
    assert joined.columns[7:] == ["macd_hist", "macd", "macd_signal", "bb_basis", "bb_upper",
                                  "bb_lower"]  # fmt: skip
    pandas_way = df.to_pandas().set_index(["symbol", "time"])
    pandas_way.attrs = {}
    for symbol in ("NASDAQ:AAPL", "NYSE:IBM"):
        mine = joined.filter(pl.col("symbol") == symbol)
        end = mine["time"][-1].timestamp() + 1
        alone = tv.history(
            symbol, "1d", start=mine["time"][0], end=end, indicators=["MACD", "BB"],
            backend="polars",
        )  # fmt: skip
        assert mine.select(alone.columns).equals(alone)
    assert joined.tv.meta == df.tv.meta


def test_join_on_a_frame_tvframe_did_not_make(sim: SimHandle) -> None:
    made = tv.history("FX:EURUSD", "4h", 60)
    plain = pd.DataFrame(made[["open", "high", "low", "close"]].to_numpy(),
                         columns=["open", "high", "low", "close"],
                         index=made.index.tz_convert("Europe/London"))  # fmt: skip
    with pytest.raises(tv.InvalidArgumentError, match="interval="):
        plain.tv.join_indicator("ATR")
    with pytest.raises(tv.InvalidArgumentError, match="symbol="):
        plain.tv.join_indicator("ATR", interval="4h")
    joined = plain.tv.join_indicator("ATR", interval="4h", symbol="FX:EURUSD")
    expected = made.tv.join_indicator("ATR")
    np.testing.assert_array_equal(joined["atr_14"].to_numpy(), expected["atr_14"].to_numpy())


def test_join_refuses_to_overwrite_a_column(sim: SimHandle) -> None:
    df = tv.history("NASDAQ:AAPL", "1d", 30, indicators=["RSI"])
    with pytest.raises(tv.InvalidArgumentError, match="rsi_14"):
        df.tv.join_indicator("RSI")


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        (("RSI",), {"length": 0}, "length=0"),
        (("RSI",), {"lenght": 14}, "lenght"),
        (("Nope",), {}, "Nope"),
        (("RSI", "MACD"), {"length": 3}, "length"),
        ((), {}, "at least one"),
    ],
)
def test_bad_indicators_are_named_before_any_connection(
    sim: SimHandle, args: tuple[str, ...], kwargs: dict[str, int], named: str
) -> None:
    df = tv.history("NASDAQ:AAPL", "1d", 5)
    # The history call's own chart_delete_session may still be on its way: count openings.
    opened = sim.stats.messages["chart_create_session"]
    with pytest.raises(tv.InvalidArgumentError, match=named):
        df.tv.join_indicator(*args, **kwargs)
    assert sim.stats.messages["chart_create_session"] == opened
    assert sim.stats.messages["create_study"] == 0


def test_a_study_the_server_refuses_names_the_reason(sim: SimHandle) -> None:
    with pytest.raises(tv.StudyError, match="Unknown@tv-basicstudies-1"):
        tv.history("NASDAQ:AAPL", "1d", 5, indicators=[tv.indicator("Unknown@tv-basicstudies-1")])
