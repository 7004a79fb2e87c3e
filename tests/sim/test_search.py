"""The simulator's symbol search over plain HTTP, beside its WebSocket (protocol.md §1.4)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any

import orjson
import pytest
from websockets.sync.client import connect

from tvframe.protocol import FrameDecoder, Hello, decode_message
from tvframe.sim import SimHandle, running
from tvframe.sim.catalogue import CATALOGUE, UNIVERSE_SIZE
from tvframe.sim.search import PAGE_SIZE, SEARCH_TYPES, SearchQuery, answer, search

TAGS = re.compile(r"</?em>")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    """One simulator for the module: search is read-only, so tests cannot disturb each other."""
    with running() as handle:
        yield handle


def get(sim: SimHandle, target: str) -> tuple[int, Message, Any]:
    """GET ``target`` from the simulator; status, headers and the parsed JSON body."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{sim.port}{target}", headers={"Origin": "https://www.tradingview.com"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read()
        return exc.code, exc.headers, orjson.loads(body) if body.startswith(b"{") else body


def names(symbols: list[dict[str, Any]]) -> list[str]:
    return [f"{s.get('prefix') or s['exchange']}:{TAGS.sub('', s['symbol'])}" for s in symbols]


# --- the HTTP shape -----------------------------------------------------------------------


def test_v3_answers_tradingviews_shape_with_json_and_cors_headers(sim: SimHandle) -> None:
    status, headers, body = get(sim, "/symbol_search/v3/?text=aapl&exchange=&search_type=&start=0"
                                     "&lang=en&domain=production&hl=0")  # fmt: skip
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert set(body) == {"symbols_remaining", "symbols"}
    first = body["symbols"][0]
    assert first["symbol"] == "AAPL" and first["description"] == "Apple Inc."
    assert (first["type"], first["exchange"], first["currency_code"]) == ("stock", "NASDAQ", "USD")
    assert "prefix" not in first  # the exchange name is the prefix already
    assert first["provider_id"] == "nasdaq" and first["source2"]["id"] == "NASDAQ"


def test_venues_named_otherwise_carry_a_prefix(sim: SimHandle) -> None:
    _, _, body = get(sim, "/symbol_search/v3/?text=btcusdt")
    first = body["symbols"][0]
    assert (first["exchange"], first["prefix"], first["symbol"]) == ("Binance", "BINANCE",
                                                                    "BTCUSDT")  # fmt: skip


def test_highlight_wraps_the_match_in_ticker_and_description(sim: SimHandle) -> None:
    _, _, body = get(sim, "/symbol_search/v3/?text=aapl&hl=1")
    assert body["symbols"][0]["symbol"] == "<em>AAPL</em>"
    _, _, body = get(sim, "/symbol_search/v3/?text=apple&hl=1")
    assert body["symbols"][0]["description"] == "<em>Apple</em> Inc."
    assert body["symbols"][0]["symbol"] == "AAPL"  # the ticker did not match: no tags
    _, _, body = get(sim, "/symbol_search/v3/?text=bitcoin%20euro&hl=1")
    assert [s["description"] for s in body["symbols"]] == ["<em>Bitcoin</em> / <em>Euro</em>"]


def test_exact_ticker_ranks_before_prefix_substring_and_description(sim: SimHandle) -> None:
    _, _, body = get(sim, "/symbol_search/v3/?text=btcusd")
    assert names(body["symbols"]) == ["COINBASE:BTCUSD", "BINANCE:BTCUSDT"]
    _, _, body = get(sim, "/symbol_search/v3/?text=eur")
    found = names(body["symbols"])
    # ticker prefix (EURUSD) before ticker substrings (BTCEUR, ETHEUR), in catalogue order
    assert found == ["FX:EURUSD", "BINANCE:BTCEUR", "BINANCE:ETHEUR"]


def test_matching_is_case_insensitive_on_ticker_and_description(sim: SimHandle) -> None:
    lower = get(sim, "/symbol_search/v3/?text=coca-cola")[2]
    upper = get(sim, "/symbol_search/v3/?text=COCA-COLA")[2]
    assert names(lower["symbols"]) == names(upper["symbols"]) == ["NYSE:KO"]


def test_pages_of_fifty_with_symbols_remaining(sim: SimHandle) -> None:
    pages = [get(sim, f"/symbol_search/v3/?text=simulated&start={start}")[2]
             for start in (0, 50, 150, 200)]  # fmt: skip
    assert [len(p["symbols"]) for p in pages] == [PAGE_SIZE, PAGE_SIZE, PAGE_SIZE, 0]
    assert [p["symbols_remaining"] for p in pages] == [150, 100, 0, 0]
    assert names(pages[1]["symbols"])[0] == "SIMX:T050"
    everything = [n for start in range(0, UNIVERSE_SIZE, PAGE_SIZE)
                  for n in names(get(sim, f"/symbol_search/v3/?text=simulated&start={start}")[2]
                                 ["symbols"])]  # fmt: skip
    assert everything == [f"SIMX:T{i:03d}" for i in range(UNIVERSE_SIZE)]


def test_exchange_and_type_filters(sim: SimHandle) -> None:
    _, _, body = get(sim, "/symbol_search/v3/?text=bitcoin&exchange=binance")
    assert names(body["symbols"]) == ["BINANCE:BTCUSDT", "BINANCE:BTCEUR"]
    _, _, body = get(sim, "/symbol_search/v3/?text=&search_type=futures")
    assert names(body["symbols"]) == ["CME_MINI:ES1!"]
    _, _, body = get(sim, "/symbol_search/v3/?text=u.s.&search_type=index")
    assert names(body["symbols"]) == ["TVC:DXY"]
    _, _, body = get(sim, "/symbol_search/v3/?text=t00&search_type=stocks")  # the web's plural
    assert names(body["symbols"]) == [f"SIMX:T00{i}" for i in range(1, 10, 2)]
    _, _, body = get(sim, "/symbol_search/v3/?text=nasdaq:aapl")  # prefix inside the text
    assert names(body["symbols"]) == ["NASDAQ:AAPL"]


def test_every_catalogue_type_can_be_searched_for(sim: SimHandle) -> None:
    for kind in SEARCH_TYPES:
        _, _, body = get(sim, f"/symbol_search/v3/?text=&search_type={kind}&start=0")
        assert body["symbols"] and {s["type"] for s in body["symbols"]} == {kind}


def test_unknown_exchange_finds_nothing(sim: SimHandle) -> None:
    assert get(sim, "/symbol_search/v3/?text=aapl&exchange=NYSE")[2] == {
        "symbols_remaining": 0, "symbols": []
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("text=aapl&start=-1", "start"),
        ("text=aapl&start=ten", "start"),
        ("text=aapl&search_type=bonds", "search_type"),
        ("text=aapl&hl=yes", "hl"),
        ("text=aapl&exchange=NAS%20DAQ", "exchange"),
        ("text=" + "a" * 201, "text"),
    ],
)
def test_bad_query_values_get_400_with_a_json_error(sim: SimHandle, query: str, named: str) -> None:
    status, headers, body = get(sim, f"/symbol_search/v3/?{query}")
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert body["error"] == "bad_request" and body["message"].startswith(named)


def test_legacy_endpoint_answers_a_list_filtered_by_type(sim: SimHandle) -> None:
    status, _, body = get(sim, "/symbol_search/?text=bitcoin&exchange=&type=crypto&hl=1")
    assert status == 200 and isinstance(body, list)
    assert names(body) == ["BINANCE:BTCUSDT", "BINANCE:BTCEUR", "COINBASE:BTCUSD"]
    assert body[0]["description"] == "<em>Bitcoin</em> / TetherUS"
    assert get(sim, "/symbol_search/?text=x&type=nope")[0] == 400


def test_answers_are_deterministic() -> None:
    target = "/symbol_search/v3/?text=t1&start=50&hl=1"
    assert answer(target) == answer(target)
    assert answer("/symbol_search/v3/?text=t1") != answer("/symbol_search/v3/?text=t2")


def test_search_covers_the_whole_catalogue() -> None:
    assert len(search(SearchQuery(""))) == len(CATALOGUE)


# --- the WebSocket beside it ----------------------------------------------------------


def test_other_paths_are_still_404(sim: SimHandle) -> None:
    for path in ("/", "/symbol_search/v2/", "/socket.io/other"):
        status, headers, _ = get(sim, path)
        assert status == 404 and headers["Content-Type"].startswith("text/plain")


def test_the_websocket_path_still_says_hello(sim: SimHandle) -> None:
    with connect(sim.url + "?from=chart%2F&type=chart", compression=None) as ws:
        frame = ws.recv(timeout=5)
    assert isinstance(frame, str)
    (payload,) = FrameDecoder().feed(frame)
    assert isinstance(payload, str) and isinstance(decode_message(payload), Hello)
