"""The seed's configuration and data models: defaults, both spellings, validation errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tvframe.errors import InvalidArgumentError, InvalidIntervalError, InvalidSymbolError
from tvframe.intervals import SEED_INTERVALS
from tvframe.models import (
    ExportConfig,
    IndicatorConfig,
    IndicatorData,
    OHLCData,
    StreamConfig,
    StreamData,
)

SEED_OHLC: dict[str, Any] = {
    "index": 0,
    "timestamp": 1640995200.0,
    "open": 47150.0,
    "high": 47200.0,
    "low": 47100.0,
    "close": 47180.0,
    "volume": 1500.0,
}
SEED_INDICATOR: dict[str, Any] = {
    "index": 0,
    "timestamp": 1640995200.0,
    "smoothing": 65.5,
    "close": 47180.0,
}


# --- StreamConfig ------------------------------------------------------------------------


def test_stream_config_seed_defaults() -> None:
    config = StreamConfig()
    assert config.websocket_jwt_token == "unauthorized_user_token"
    assert config.timeframe == "1m"
    assert config.numb_price_candles == config.num_candles == 10
    assert config.symbols == []


def test_stream_config_as_the_seed_writes_it() -> None:
    config = StreamConfig(
        websocket_jwt_token="unauthorized_user_token", timeframe="1m", numb_price_candles=10
    )
    assert (config.timeframe, config.numb_price_candles, config.num_candles) == ("1m", 10, 10)


@pytest.mark.parametrize("timeframe", SEED_INTERVALS)
def test_every_seed_timeframe_is_accepted(timeframe: str) -> None:
    assert StreamConfig(timeframe=timeframe).timeframe == timeframe


@pytest.mark.parametrize("timeframe", ["1", "1H", "1min", "0m", "m1", "", "5 m", "1y"])
def test_bad_timeframe_raises_interval_error_naming_it(timeframe: str) -> None:
    with pytest.raises(InvalidIntervalError) as info:
        StreamConfig(timeframe=timeframe)
    assert repr(timeframe) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("spelling", ["num_candles", "numb_price_candles"])
@pytest.mark.parametrize("count", [1, 50, 1000])
def test_both_candle_spellings_set_one_value(spelling: str, count: int) -> None:
    kwargs: dict[str, Any] = {spelling: count}
    config = StreamConfig(**kwargs)
    assert config.num_candles == config.numb_price_candles == count


@pytest.mark.parametrize("spelling", ["num_candles", "numb_price_candles"])
@pytest.mark.parametrize("count", [0, -1, 1001, 10**6])
def test_candles_outside_1_to_1000_are_refused(spelling: str, count: int) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{spelling}={count} is out of range"):
        StreamConfig(**{spelling: count})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, 2.0, "10", None])
def test_candles_must_be_an_integer(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="must be an integer"):
        StreamConfig(num_candles=value)  # type: ignore[arg-type]


def test_two_spellings_must_agree() -> None:
    assert StreamConfig(num_candles=7, numb_price_candles=7).num_candles == 7
    with pytest.raises(InvalidArgumentError, match="disagree"):
        StreamConfig(num_candles=7, numb_price_candles=8)


def test_symbols_are_normalised() -> None:
    config = StreamConfig(symbols=["binance:btcusdt", " NASDAQ:AAPL "], timeframe="5m")
    assert config.symbols == ["BINANCE:BTCUSDT", "NASDAQ:AAPL"]
    assert StreamConfig(symbols="nyse:ibm").symbols == ["NYSE:IBM"]  # type: ignore[arg-type]


def test_every_malformed_symbol_is_named_at_once() -> None:
    bad = ["AAPL", "NASDAQ:", "X:../etc"]
    with pytest.raises(InvalidSymbolError) as info:
        StreamConfig(symbols=["NASDAQ:AAPL", *bad])
    assert info.value.symbols == bad
    for symbol in bad:
        assert repr(symbol) in str(info.value)


def test_token_is_kept_out_of_repr() -> None:
    config = StreamConfig(websocket_jwt_token="secret.jwt.value")
    assert config.websocket_jwt_token == "secret.jwt.value"
    assert "secret" not in repr(config)


def test_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgumentError, match="num_candle=5"):
        StreamConfig(num_candle=5)  # type: ignore[call-arg]


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        StreamConfig(timeframe="7x", symbols=["NOPE"])
    assert "'7x'" in str(info.value)
    assert "'NOPE'" in str(info.value)


# --- ExportConfig and IndicatorConfig ---------------------------------------------------------


def test_export_config_defaults_and_types() -> None:
    config = ExportConfig(export_result=True, export_type="json")
    assert (config.export_result, config.export_type, config.directory) == (
        True,
        "json",
        Path("export"),
    )
    assert ExportConfig(export_result=False).export_result is False
    assert ExportConfig(export_type="csv").export_type == "csv"
    assert ExportConfig(export_type="parquet", directory=Path("out")).directory == Path("out")


def test_unknown_export_type_is_named() -> None:
    with pytest.raises(InvalidArgumentError, match="export_type='xml'"):
        ExportConfig(export_type="xml")  # type: ignore[arg-type]


def test_indicator_config() -> None:
    config = IndicatorConfig(indicator_id="RSI@tv-basicstudies", indicator_version="1")
    assert (config.indicator_id, config.indicator_version) == ("RSI@tv-basicstudies", "1")
    assert IndicatorConfig().indicator_id is None
    assert IndicatorConfig(indicator_version=2).indicator_version == "2"  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="blank"):
        IndicatorConfig(indicator_id="  ")


# --- data models -----------------------------------------------------------------------------


def test_ohlc_and_indicator_data_have_the_seed_shape() -> None:
    assert OHLCData(**SEED_OHLC).model_dump() == SEED_OHLC
    assert IndicatorData(**SEED_INDICATOR).model_dump() == SEED_INDICATOR


def test_stream_data_combines_both() -> None:
    data = StreamData(ohlc=[OHLCData(**SEED_OHLC)], indicator=[IndicatorData(**SEED_INDICATOR)])
    assert data.model_dump() == {"ohlc": [SEED_OHLC], "indicator": [SEED_INDICATOR]}
    assert StreamData().ohlc == [] and StreamData().indicator == []


def test_data_models_reject_bad_values_with_a_value_error() -> None:
    with pytest.raises(InvalidArgumentError, match="open='abc'"):
        OHLCData(**{**SEED_OHLC, "open": "abc"})
