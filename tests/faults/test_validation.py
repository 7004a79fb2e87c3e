"""What users type is checked at the boundary, before any network call, by an error that names
the bad value: symbols, intervals, URLs, tokens (named by kind, never echoed) and file paths.

Every call points at a port nothing listens on: had a call gone to the network first, it
would fail with a transport error instead of the validation error the test expects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tvframe as tv
from tests.faults.figures import Figures
from tvframe import Client
from tvframe.errors import (
    InvalidArgumentError,
    InvalidIntervalError,
    InvalidSymbolError,
    TvFrameValidationError,
)
from tvframe.export import export_data
from tvframe.io import to_csv, to_json, to_parquet
from tvframe.liveframe import live
from tvframe.models import ExportConfig, OHLCData, StreamConfig
from tvframe.plot import plot
from tvframe.streamer import RealtimeStreamer, validate_symbols

NOWHERE = "ws://127.0.0.1:9/socket.io/websocket"  # the discard port: nobody answers

BAD_SYMBOLS: list[Any] = [
    "AAPL", "NASDAQ:", ":AAPL", "NAS DAQ:AAPL", "NASDAQ:AA PL", "NASDAQ:AAPL\x00",
    "../../etc:passwd", "NASDAQ:" + "A" * 300, "",
]  # fmt: skip
NON_STRINGS: list[Any] = [123, 1.5, b"NASDAQ:AAPL", None]
BAD_INTERVALS: list[Any] = ["15min", "0m", "-1m", "1x", "", "m", "99999999m", 5, 1.5, "1 m"]
BAD_URLS = ["http://example.com/socket", "ftp://x", "wss://", "ws:///nohost", "not a url"]
TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2VuLWJvZHk.c2lnbmF0dXJlLXNlY3JldA"
BAD_TOKENS: list[Any] = [TOKEN + " trailing", "line1\nline2" + TOKEN, TOKEN * 200, 12345]


def named(value: Any, message: str) -> bool:
    text = value if isinstance(value, str) else repr(value)
    return repr(value) in message or (bool(text) and text in message)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


SYMBOL_CALLS: dict[str, Callable[[Any], object]] = {
    "tv.history": lambda s: tv.history(s, "1m", 10, url=NOWHERE),
    "tv.history (list)": lambda s: tv.history(["NASDAQ:AAPL", s], "1m", 10, url=NOWHERE),
    "tv.live": lambda s: live(s, "1m", 10, url=NOWHERE),
    "tv.quote": lambda s: tv.quote(s, url=NOWHERE),
    "Client.history": lambda s: run(Client(NOWHERE).history(s, "1m", 10)),
    "Client.stream": lambda s: Client(NOWHERE).stream(s, "1m"),
    "StreamConfig": lambda s: StreamConfig(symbols=[s]),
    "RealtimeStreamer.stream": lambda s: RealtimeStreamer(url=NOWHERE).stream(symbol=s),
    "validate_symbols": lambda s: run(validate_symbols([s], url=NOWHERE)),
}
INTERVAL_CALLS: dict[str, Callable[[Any], object]] = {
    "tv.history": lambda i: tv.history("NASDAQ:AAPL", i, 10, url=NOWHERE),
    "tv.live": lambda i: live("NASDAQ:AAPL", i, 10, url=NOWHERE),
    "Client.history": lambda i: run(Client(NOWHERE).history("NASDAQ:AAPL", i, 10)),
    "Client.stream": lambda i: Client(NOWHERE).stream("NASDAQ:AAPL", i),
    "StreamConfig": lambda i: StreamConfig(symbols=["NASDAQ:AAPL"], timeframe=i),
}
URL_CALLS: dict[str, Callable[[str], object]] = {
    "Client": lambda u: Client(u),
    "tv.history": lambda u: tv.history("NASDAQ:AAPL", "1m", 10, url=u),
    "tv.live": lambda u: live("NASDAQ:AAPL", "1m", 10, url=u),
    "RealtimeStreamer": lambda u: RealtimeStreamer(url=u),
}
TOKEN_CALLS: dict[str, Callable[[Any], object]] = {
    "Client": lambda t: Client(NOWHERE, t),
    "tv.history": lambda t: tv.history("NASDAQ:AAPL", "1m", 10, url=NOWHERE, token=t),
    "tv.live": lambda t: live("NASDAQ:AAPL", "1m", 10, url=NOWHERE, token=t),
    "tv.quote": lambda t: tv.quote("NASDAQ:AAPL", url=NOWHERE, token=t),
}


@pytest.mark.parametrize("call", list(SYMBOL_CALLS))
def test_bad_symbols_are_named_before_any_network_call(call: str, figures: Figures) -> None:
    for value in BAD_SYMBOLS:
        with pytest.raises(InvalidSymbolError) as caught:
            SYMBOL_CALLS[call](value)
        assert isinstance(caught.value, ValueError)
        assert named(value, str(caught.value)), (value, str(caught.value))
    figures.record(
        f"bad symbols given to {call}", values=len(BAD_SYMBOLS), error="InvalidSymbolError"
    )


@pytest.mark.parametrize(
    "call",
    [
        c
        for c in SYMBOL_CALLS
        if c != "RealtimeStreamer.stream"  # None there means "the configured symbols"
    ],
)
def test_a_symbol_that_is_not_a_string_is_named(call: str, figures: Figures) -> None:
    for value in NON_STRINGS:
        with pytest.raises(InvalidSymbolError) as caught:
            SYMBOL_CALLS[call](value)
        assert named(value, str(caught.value)), (value, str(caught.value))
        assert "78" not in str(caught.value)  # bytes are not a list of numbered symbols
    figures.record(f"symbols that are not strings given to {call}", values=len(NON_STRINGS))


@pytest.mark.parametrize("call", list(INTERVAL_CALLS))
def test_bad_intervals_are_named_before_any_network_call(call: str, figures: Figures) -> None:
    for value in BAD_INTERVALS:
        with pytest.raises(InvalidIntervalError) as caught:
            INTERVAL_CALLS[call](value)
        assert named(value, str(caught.value)), (value, str(caught.value))
    figures.record(
        f"bad intervals given to {call}", values=len(BAD_INTERVALS), error="InvalidIntervalError"
    )


@pytest.mark.parametrize("call", list(URL_CALLS))
def test_bad_urls_are_named_before_any_network_call(call: str, figures: Figures) -> None:
    for value in BAD_URLS:
        with pytest.raises(InvalidArgumentError) as caught:
            URL_CALLS[call](value)
        assert named(value, str(caught.value)), (value, str(caught.value))
    figures.record(f"bad URLs given to {call}", values=len(BAD_URLS), error="InvalidArgumentError")


@pytest.mark.parametrize("call", list(TOKEN_CALLS))
def test_bad_tokens_are_refused_by_kind_and_never_echoed(call: str, figures: Figures) -> None:
    for value in BAD_TOKENS:
        with pytest.raises(InvalidArgumentError, match="token") as caught:
            TOKEN_CALLS[call](value)
        message = str(caught.value)
        assert TOKEN[:8] not in message and "line1" not in message and "12345" not in message
    figures.record(f"bad tokens given to {call}", values=len(BAD_TOKENS), echoed=0)


@pytest.fixture
def bars_frame() -> pd.DataFrame:
    times = pd.DatetimeIndex([pd.Timestamp("2024-01-02 14:30", tz="UTC")], name="time")
    frame: pd.DataFrame = pd.DataFrame(
        {"symbol": ["NASDAQ:AAPL"], "open": [1.0], "high": [2.0], "low": [0.5],
         "close": [1.5], "volume": [10.0]},
        index=times,
    )  # fmt: skip
    return frame


def path_writers(frame: pd.DataFrame) -> dict[str, Callable[[Path], object]]:
    bar = OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)
    return {
        "to_csv": lambda p: to_csv(frame, p),
        "to_json": lambda p: to_json(frame, p),
        "to_parquet": lambda p: to_parquet(frame, p),
        "export_data": lambda p: export_data([bar], symbol="X:Y", timeframe="1m", directory=p),
        "ExportConfig": lambda p: ExportConfig(export_result=True, directory=p),
        "plot": lambda p: plot(frame, p),
    }


@pytest.mark.parametrize(
    "writer", ["to_csv", "to_json", "to_parquet", "export_data", "ExportConfig", "plot"]
)
def test_a_path_with_a_nul_byte_is_named_at_the_boundary(
    writer: str, bars_frame: pd.DataFrame, tmp_path: Path
) -> None:
    bad = tmp_path / "out\x00.csv"
    with pytest.raises(TvFrameValidationError) as caught:
        path_writers(bars_frame)[writer](bad)
    assert "out\\x00.csv" in str(caught.value) or repr(str(bad)) in str(caught.value)
