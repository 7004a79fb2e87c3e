"""tv.search and tv.asearch: against the simulator, and a scripted HTTP server for failures."""

from __future__ import annotations

import http.server
import inspect
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pandas as pd
import polars as pl
import pytest

import tvframe.symbol_search as tvsearch
from tvframe.errors import (
    InvalidArgumentError,
    MessageError,
    RateLimitError,
    ServerError,
    TvTimeoutError,
    WebSocketException,
)
from tvframe.sim import SimHandle
from tvframe.symbol_search import (
    SEARCH_COLUMNS,
    TRADINGVIEW_SEARCH_URL,
    asearch,
    search,
    search_url,
)


def frame(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``search`` with the pandas backend, typed as such."""
    df = search(*args, **kwargs)
    assert isinstance(df, pd.DataFrame)
    return df


# --- against the simulator ------------------------------------------------------------------


def test_aapl_finds_nasdaq_aapl_first(sim: SimHandle) -> None:
    df = frame("aapl")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(SEARCH_COLUMNS)
    assert all(str(dtype) == "string" for dtype in df.dtypes)
    first = df.iloc[0]
    assert first["symbol"] == "NASDAQ:AAPL"  # highlight tags stripped
    assert (first["ticker"], first["exchange"], first["description"], first["type"],
            first["currency"]) == ("AAPL", "NASDAQ", "Apple Inc.", "stock", "USD")  # fmt: skip


def test_prefix_names_the_exchange_when_the_venue_name_differs(sim: SimHandle) -> None:
    df = frame("bitcoin", type="crypto")
    assert df["symbol"].tolist() == ["BINANCE:BTCUSDT", "BINANCE:BTCEUR", "COINBASE:BTCUSD"]
    assert df["exchange_name"].tolist() == ["Binance", "Binance", "Coinbase"]


def test_filters_by_exchange_and_type(sim: SimHandle) -> None:
    assert frame("bitcoin", exchange="COINBASE")["symbol"].tolist() == ["COINBASE:BTCUSD"]
    stocks = frame("t00", type="stock")
    assert stocks["symbol"].tolist() == [f"SIMX:T00{i}" for i in range(1, 10, 2)]
    assert set(stocks["type"]) == {"stock"}
    assert frame("NASDAQ:AAPL")["symbol"].tolist() == ["NASDAQ:AAPL"]


def test_pages_past_fifty_up_to_the_limit(sim: SimHandle) -> None:
    df = frame("simulated", limit=120)
    assert df["symbol"].tolist() == [f"SIMX:T{i:03d}" for i in range(120)]
    assert len(frame("simulated", limit=1000)) == 200  # stops when nothing remains
    assert len(frame("simulated", limit=7)) == 7


def test_polars_backend_has_the_same_rows(sim: SimHandle) -> None:
    df = search("bitcoin", backend="polars")
    assert isinstance(df, pl.DataFrame)
    assert df.columns == list(SEARCH_COLUMNS)
    assert all(dtype == pl.String for dtype in df.dtypes)
    assert df["symbol"].to_list() == frame("bitcoin")["symbol"].tolist()


def test_no_result_is_an_empty_frame_with_the_columns(sim: SimHandle) -> None:
    df = frame("zzzzzz")
    assert df.empty and list(df.columns) == list(SEARCH_COLUMNS)
    assert all(str(dtype) == "string" for dtype in df.dtypes)
    empty = search("zzzzzz", backend="polars")
    assert isinstance(empty, pl.DataFrame)
    assert empty.height == 0 and empty.columns == list(SEARCH_COLUMNS)


async def test_async_twin(sim: SimHandle) -> None:
    df = await asearch("msft")
    assert isinstance(df, pd.DataFrame)
    assert df["symbol"].iloc[0] == "NASDAQ:MSFT"


def test_sync_and_async_signatures_match() -> None:
    sync, async_ = inspect.signature(search), inspect.signature(asearch)
    assert sync.parameters == async_.parameters
    assert sync.return_annotation == async_.return_annotation
    assert inspect.iscoroutinefunction(asearch) and not inspect.iscoroutinefunction(search)
    assert search.__doc__ and asearch.__doc__


# --- arguments and the URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "a", "limit": 0}, "limit"),
        ({"text": "a", "limit": 1001}, "limit"),
        ({"text": "a", "limit": True}, "limit"),
        ({"text": "a", "limit": "5"}, "limit"),
        ({"text": "a", "exchange": ""}, "exchange"),
        ({"text": "a", "backend": "arrow"}, "backend"),
        ({"text": "a", "timeout": 0}, "timeout"),
        ({"text": "a", "url": "ftp://x/"}, "url"),
    ],
)
def test_bad_arguments_are_named_before_any_request(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgumentError, match=named):
        search(**kwargs)


def test_search_url_follows_the_websocket_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TVFRAME_SEARCH_URL", raising=False)
    monkeypatch.setenv("TVFRAME_URL", "wss://prodata.tradingview.com/socket.io/websocket")
    assert search_url() == TRADINGVIEW_SEARCH_URL
    monkeypatch.setenv("TVFRAME_URL", "ws://127.0.0.1:8765/socket.io/websocket?from=chart")
    assert search_url() == "http://127.0.0.1:8765/symbol_search/v3/"
    monkeypatch.setenv("TVFRAME_URL", "wss://proxy.example.com:9443/tv/socket")
    assert search_url() == "https://proxy.example.com:9443/symbol_search/v3/"
    monkeypatch.setenv("TVFRAME_URL", "wss://nottradingview.com/socket.io/websocket")
    assert search_url() == "https://nottradingview.com/symbol_search/v3/"
    monkeypatch.setenv("TVFRAME_SEARCH_URL", "http://search.local/v3/")
    assert search_url() == "http://search.local/v3/"
    assert search_url("https://other/s/") == "https://other/s/"


def test_search_url_without_any_setting_is_tradingviews(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TVFRAME_SEARCH_URL", raising=False)
    monkeypatch.delenv("TVFRAME_URL", raising=False)
    assert search_url() == TRADINGVIEW_SEARCH_URL


# --- failures, against a scripted server -----------------------------------------------------


@dataclass
class Scripted:
    """An HTTP server answering each GET with the next scripted (status, body)."""

    url: str
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    #: Seconds between single body bytes (0: the whole body at once).
    trickle: float = 0.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def page(symbols: list[Any], remaining: int = 0) -> tuple[int, bytes]:
    return 200, orjson.dumps({"symbols_remaining": remaining, "symbols": symbols})


def entry(ticker: str, exchange: str = "NASDAQ", **extra: Any) -> dict[str, Any]:
    return {"symbol": ticker, "description": f"{ticker} Inc.", "type": "stock",
            "exchange": exchange, "currency_code": "USD", **extra}  # fmt: skip


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    state = Scripted("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers.items())))
            status, body = state.answers.pop(0) if state.answers else page([])
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not state.trickle:
                self.wfile.write(body)
                return
            for byte in body[:8]:  # then hang up: the reader thread must not outlive the test
                time.sleep(state.trickle)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/symbol_search/v3/"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_sends_tradingviews_query_and_origin(scripted: Scripted) -> None:
    scripted.answers = [page([entry("AAPL")], remaining=3), page([entry("AAPD")])]
    df = frame("aap", exchange="NASDAQ", type="stock", url=scripted.url)
    assert df["symbol"].tolist() == ["NASDAQ:AAPL", "NASDAQ:AAPD"]
    (first, headers), (second, _) = scripted.requests
    query = parse_qs(urlsplit(first).query, keep_blank_values=True)
    assert {k: v[0] for k, v in query.items()} == {
        "text": "aap", "exchange": "NASDAQ", "search_type": "stock", "start": "0", "lang": "en",
        "domain": "production", "hl": "1",
    }  # fmt: skip
    assert headers["Origin"] == "https://www.tradingview.com"
    assert parse_qs(urlsplit(second).query)["start"] == ["1"]  # paged on from what came


def test_tags_stripped_prefix_preferred_exchange_name_first_word(scripted: Scripted) -> None:
    scripted.answers = [page([
        entry("<em>BTC</em>USDT", "Binance", prefix="BINANCE", description="<em>Bit</em>coin"),
        entry("SPY", "NYSE Arca"),
    ])]  # fmt: skip
    df = frame("btc", url=scripted.url)
    assert df["symbol"].tolist() == ["BINANCE:BTCUSDT", "NYSE:SPY"]
    assert df["description"].tolist() == ["Bitcoin", "SPY Inc."]
    assert df["exchange_name"].tolist() == ["Binance", "NYSE Arca"]


def test_malformed_entries_are_skipped_and_counted(
    scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.answers = [
        page(
            [
                entry("A"),
                "junk",
                {"symbol": 5},
                {"symbol": "X"},
                entry("B"),
                {"symbol": "Y", "description": ["not text"], "exchange": "E"},
            ]
        )
    ]
    with caplog.at_level(logging.WARNING, logger="tvframe.symbol_search"):
        df = frame("x", url=scripted.url)
    assert df["symbol"].tolist() == ["NASDAQ:A", "NASDAQ:B", "E:Y"]
    assert pd.isna(df["description"].iloc[2])
    assert "3 malformed entries" in caplog.text


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ((429, b'{"error":"slow down"}'), RateLimitError),
        ((500, b"oops"), ServerError),
        ((403, b"forbidden"), ServerError),
        ((200, b"<html>not json</html>"), MessageError),
        ((200, b'{"symbols": "nope", "symbols_remaining": 0}'), MessageError),
        ((200, b'{"symbols": [], "symbols_remaining": -1}'), MessageError),
        ((200, b'[{"symbol": "AAPL"}]'), MessageError),
        ((200, b'{"symbols": [], "symbols_remaining": ' + b"1" * 5_000_000 + b"}"), MessageError),
    ],
)
def test_bad_answers_raise_typed_errors(
    scripted: Scripted, answer: tuple[int, bytes], error: type[Exception]
) -> None:
    scripted.answers = [answer]
    with pytest.raises(error):
        search("x", url=scripted.url)


def test_a_server_that_never_stops_paging_is_cut_off(scripted: Scripted) -> None:
    scripted.answers = [page([{"bad": 1}], remaining=10**9) for _ in range(300)]
    assert frame("x", limit=10, url=scripted.url).empty
    assert len(scripted.requests) == tvsearch._MAX_PAGES


def test_dead_port_is_a_transport_error_within_the_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed on exit: nothing listens there
    began = time.monotonic()
    with pytest.raises(WebSocketException, match=f"127.0.0.1:{port}"):
        search("aapl", url=f"http://127.0.0.1:{port}/symbol_search/v3/", timeout=2.0)
    assert time.monotonic() - began < 2.0


def test_silent_server_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts into the backlog, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/symbol_search/v3/"
        began = time.monotonic()
        with pytest.raises(TvTimeoutError):
            search("aapl", url=url, timeout=0.5)
        assert time.monotonic() - began < 2.0


def test_a_trickling_server_times_out_at_the_deadline(scripted: Scripted) -> None:
    scripted.trickle = 0.1  # each byte beats the socket timeout; the whole body never does
    scripted.answers = [page([entry("AAPL")] * 3)]
    began = time.monotonic()
    with pytest.raises(TvTimeoutError, match=r"within 0\.4s"):
        search("aapl", url=scripted.url, timeout=0.4)
    assert time.monotonic() - began < 1.0
