"""The simulator's WebSocket server, driven by a plain websockets client and tvframe.protocol."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as sync_connect

from tvframe.protocol import (
    DataUpdate,
    FrameDecoder,
    Hello,
    TimescaleUpdate,
    decode_message,
    encode_message,
    symbol_descriptor,
    utf16_len,
)
from tvframe.sim import DEFAULT_START, SimClock, SimConfig, SimHandle, Simulator, running
from tvframe.sim.catalogue import CATALOGUE
from tvframe.sim.market import SimBars

TIMEOUT = 5.0
CS = "cs_testsession1"
JWT = "eyJhbGciOiJSUzUxMiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl"
STAMPED = {"series_loading", "symbol_resolved", "timescale_update", "series_completed"}
Call = tuple[str, Sequence[Any]]


class Peer:
    """A raw client: sends framed calls, collects every server message as parsed JSON."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self._decoder = FrameDecoder()
        self._pending: list[dict[str, Any]] = []

    async def send(self, *calls: Call) -> None:
        """All calls batched in one WebSocket frame, as clients do."""
        await self.ws.send("".join(encode_message(m, list(p)) for m, p in calls))

    async def frame(self) -> str:
        text = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        assert isinstance(text, str)
        self.frames.append(text)
        return text

    async def until(self, method: str, count: int = 1) -> list[dict[str, Any]]:
        """Messages up to and including the ``count``-th ``method``."""
        out: list[dict[str, Any]] = []
        while True:
            while self._pending:
                message = self._pending.pop(0)
                out.append(message)
                if message.get("m") == method:
                    count -= 1
                    if count == 0:
                        return out
            for item in self._decoder.feed(await self.frame()):
                if isinstance(item, str):
                    self._pending.append(orjson.loads(item))


@asynccontextmanager
async def peer_of(sim: Simulator, query: str = "?from=chart%2F&type=chart") -> AsyncIterator[Peer]:
    async with connect(sim.url + query, compression=None, max_size=None) as ws:
        yield Peer(ws)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


def methods(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("m", "<hello>") for m in messages]


def only(messages: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("m") == method]


def series_calls(
    symbol: str = "NASDAQ:AAPL",
    resolution: str = "5",
    count: Any = 300,
    *,
    cs: str = CS,
    sid: str = "sds_1",
    sym_id: str = "sds_sym_1",
    token: str = "unauthorized_user_token",
    seven: bool = True,
) -> list[Call]:
    tail: list[Any] = [""] if seven else []
    return [
        ("set_auth_token", [token]),
        ("chart_create_session", [cs, ""]),
        ("resolve_symbol", [cs, sym_id, symbol_descriptor(symbol)]),
        ("create_series", [cs, sid, "s1", sym_id, resolution, count, *tail]),
    ]


async def load(peer: Peer, *calls: Call) -> list[dict[str, Any]]:
    """Send the calls; return every message up to the next series_completed."""
    await peer.send(*calls)
    return await peer.until("series_completed")


def bars_of(message: dict[str, Any], sid: str = "sds_1") -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = message["p"][1][sid]["s"]
    return points


def rows(bars: SimBars, volume: bool = True) -> list[list[float]]:
    columns = [bars.time, bars.open, bars.high, bars.low, bars.close]
    if volume:
        columns.append(bars.volume)
    result: list[list[float]] = np.column_stack(columns).tolist()
    return result


# --- transport ------------------------------------------------------------------------


async def test_hello_is_first_even_when_the_client_speaks_first(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(*series_calls())  # before reading anything, like TVAPI and TVKIT
        messages = await peer.until("series_completed")
    hello = messages[0]
    assert list(hello) == [
        "session_id",
        "timestamp",
        "timestampMs",
        "release",
        "studies_metadata_hash",
        "auth_scheme_vsn",
        "protocol",
        "via",
        "javastudies",
    ]
    assert hello["protocol"] == "json" and hello["timestamp"] == int(DEFAULT_START)
    assert isinstance(decode_message(orjson.dumps(hello).decode()), Hello)
    assert peer.frames[0].startswith("~m~") and '"m"' not in peer.frames[0]
    assert methods(messages)[1:] == [
        "series_loading",
        "symbol_resolved",
        "timescale_update",
        "series_completed",
    ]


async def test_heartbeats_are_numbered_and_alone_in_their_frame() -> None:
    async with Simulator(SimConfig(heartbeat_interval=0.02)) as sim, peer_of(sim) as peer:
        await peer.send(*series_calls(count=50))
        heartbeats: list[str] = []
        while len(heartbeats) < 3:
            frame = await peer.frame()
            if "~h~" in frame:
                heartbeats.append(frame)
    assert heartbeats == ["~m~4~m~~h~1", "~m~4~m~~h~2", "~m~4~m~~h~3"]
    assert sim.stats.heartbeats_sent >= 3
    data_frames = [f for f in peer.frames if f not in heartbeats]
    assert all("~h~" not in f for f in data_frames)


async def test_wrong_path_is_refused(sim: Simulator) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(sim.url.replace("/socket.io/websocket", "/other")):
            pass
    assert info.value.response.status_code == 404


async def test_no_compression_even_when_offered(sim: Simulator) -> None:
    async with connect(sim.url, origin="https://data.tradingview.com") as ws:  # type: ignore[arg-type]
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.ping()


# --- series loading -------------------------------------------------------------------


@pytest.mark.parametrize("seven", [True, False], ids=["7-params", "6-params"])
async def test_create_series_shapes(sim: Simulator, seven: bool) -> None:
    async with peer_of(sim) as peer:
        messages = await load(peer, *series_calls(count=300, seven=seven))
    assert len(peer.frames) == 2, "hello, then every reply batched in one frame"
    for message in messages[1:]:
        assert ("t" in message and "t_ms" in message) == (message["m"] in STAMPED)
        assert list(message)[:2] == ["m", "p"]
    loading, resolved, update, completed = messages[1:]
    assert loading["p"] == [CS, "sds_1", "s1"]
    assert resolved["p"][:2] == [CS, "sds_sym_1"]
    assert resolved["p"][2]["full_name"] == "NASDAQ:AAPL"
    series = update["p"][1]["sds_1"]
    assert list(series) == ["node", "s", "ns", "t", "lbs"]
    assert series["ns"] == {"d": "", "indexes": []} and series["t"] == "s1"
    assert list(update["p"][2]) == ["index", "zoffset", "changes", "marks", "index_diff"]
    assert [p["i"] for p in series["s"]] == list(range(300))
    assert all(len(p["v"]) == 6 for p in series["s"])
    assert update["p"][2]["changes"] == [p["v"][0] for p in series["s"]]
    assert completed["p"] == [CS, "sds_1", "streaming", "s1", {"rt_update_period": 5}]
    # Times are floats on the wire, like the captures' 1728272700.0.
    assert re.search(r'"v":\[\d+\.0,', peer.frames[1])


async def test_symbol_resolved_info_has_the_capture_keys(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        messages = await load(peer, *series_calls("NASDAQ:AAPL"))
    info = only(messages, "symbol_resolved")[0]["p"][2]
    for key in (
        "name",
        "full_name",
        "pro_name",
        "exchange",
        "description",
        "type",
        "timezone",
        "session",
        "pricescale",
        "minmov",
        "currency_code",
        "subsessions",
        "typespecs",
        "has_intraday",
        "visible_plots_set",
        "listed_exchange",
        "minmove2",
    ):
        assert key in info, key
    symbol = CATALOGUE["NASDAQ:AAPL"]
    assert (info["name"], info["timezone"], info["session"], info["pricescale"]) == (
        symbol.ticker,
        symbol.timezone,
        symbol.session,
        symbol.pricescale,
    )


@pytest.mark.parametrize(
    ("count", "per_request", "depth", "expected"),
    [(300, 5000, 5000, 300), (1000, 200, 5000, 200), (1000, 5000, 150, 150)],
)
async def test_bar_count_is_min_of_request_and_caps(
    count: int, per_request: int, depth: int, expected: int
) -> None:
    config = SimConfig(bars_per_request=per_request, max_depth=depth)
    async with Simulator(config) as sim, peer_of(sim) as peer:
        messages = await load(peer, *series_calls(count=count, resolution="1"))
    assert len(bars_of(only(messages, "timescale_update")[0])) == expected
    assert sim.stats.bars_sent == expected


async def test_bars_equal_the_market(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        messages = await load(peer, *series_calls("NASDAQ:AAPL", "5", 400))
    now = sim.clock.now()
    expected = sim.market.bars_before(CATALOGUE["NASDAQ:AAPL"], "5", now + 1, 400, now=now)
    update = only(messages, "timescale_update")[0]
    assert [p["v"] for p in bars_of(update)] == rows(expected)
    event = decode_message(orjson.dumps(update).decode())
    assert isinstance(event, TimescaleUpdate)
    assert np.array_equal(event.series[0].bars.close, expected.close)


async def test_bar_count_list_form_ends_at_the_timestamp(sim: Simulator) -> None:
    to = int(DEFAULT_START - 86400)
    async with peer_of(sim) as peer:
        messages = await load(peer, *series_calls("BINANCE:BTCUSDT", "60", ["bar_count", to, 24]))
    times = [p["v"][0] for p in bars_of(only(messages, "timescale_update")[0])]
    assert len(times) == 24 and times[-1] <= to and times[-1] > to - 3600


async def test_no_volume_symbol_sends_five_element_bars(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        messages = await load(peer, *series_calls("SP:SPX", "D", 20))
    points = bars_of(only(messages, "timescale_update")[0])
    assert len(points) == 20 and all(len(p["v"]) == 5 for p in points)
    assert only(messages, "symbol_resolved")[0]["p"][2]["visible_plots_set"] == "ohlc"


async def test_non_ascii_length_prefix_counts_utf16_units(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        messages = await load(peer, *series_calls("KRX:005930", "D", 5))
    info = only(messages, "symbol_resolved")[0]["p"][2]
    assert info["local_description"] == "삼성전자 📈"
    match = re.search(r'~m~(\d+)~m~(\{"m":"symbol_resolved".*?)(?=~m~\d+~m~)', peer.frames[1])
    assert match is not None
    declared, payload = int(match.group(1)), match.group(2)
    assert "삼성전자 📈" in payload, "non-ASCII is sent raw, not \\u-escaped"
    assert declared == utf16_len(payload) == len(payload) + 1  # the emoji is two units


async def test_extended_session_descriptor(sim: Simulator) -> None:
    descriptor = '={"adjustment": "splits", "session": "extended", "symbol": "NASDAQ:AAPL"}'
    async with peer_of(sim) as peer:
        messages = await load(
            peer,
            ("chart_create_session", [CS, ""]),
            ("resolve_symbol", [CS, "sym", descriptor]),
            ("create_series", [CS, "sds_1", "s1", "sym", "60", 10]),
        )
    info = only(messages, "symbol_resolved")[0]["p"][2]
    assert info["session"] == CATALOGUE["NASDAQ:AAPL"].extended_session
    assert info["subsession_id"] == "extended"


# --- paging ---------------------------------------------------------------------------


async def test_request_more_data_pages_back_until_max_depth() -> None:
    config = SimConfig(bars_per_request=100, max_depth=250)
    async with Simulator(config) as sim, peer_of(sim) as peer:
        first = bars_of(
            only(await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 100)), "timescale_update")[
                0
            ]
        )
        pages = []
        for _ in range(3):
            await peer.send(("request_more_data", [CS, "sds_1", 100]))
            pages.append(await peer.until("series_completed"))
    assert [methods(p) for p in pages] == [
        ["series_loading", "timescale_update", "series_completed"]
    ] * 3
    second = only(pages[0], "timescale_update")[0]
    third = only(pages[1], "timescale_update")[0]
    last = only(pages[2], "timescale_update")[0]
    assert [p["i"] for p in bars_of(second)] == list(range(-100, 0))
    assert (second["p"][2]["index"], second["p"][2]["zoffset"]) == (-100, 100)
    assert [p["i"] for p in bars_of(third)] == list(range(-150, -100)), "capped by max_depth"
    assert (third["p"][2]["index"], third["p"][2]["zoffset"]) == (-150, 50)
    assert bars_of(last) == []
    expected = sim.market.bars_before(
        CATALOGUE["BINANCE:BTCUSDT"], "1", first[0]["v"][0], 100, now=sim.clock.now()
    )
    assert [p["v"] for p in bars_of(second)] == rows(expected)
    assert bars_of(second)[-1]["v"][0] + 60 == first[0]["v"][0]


async def test_request_more_data_ends_at_the_start_of_history() -> None:
    config = SimConfig(max_depth=100_000)
    async with Simulator(config) as sim, peer_of(sim) as peer:
        messages = await load(peer, *series_calls("BINANCE:BTCUSDT", "M", 5000))
        loaded = len(bars_of(only(messages, "timescale_update")[0]))
        await peer.send(("request_more_data", [CS, "sds_1", 100]))
        page = await peer.until("series_completed")
    assert 0 < loaded < 5000, "monthly history since the data start is shorter than asked"
    assert bars_of(only(page, "timescale_update")[0]) == []


# --- errors ---------------------------------------------------------------------------


async def test_invalid_symbol_gets_symbol_error_then_series_error(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(*series_calls("NOPE:NOTHING"))
        messages = await peer.until("series_error")
    assert only(messages, "symbol_error")[0]["p"] == [CS, "sds_sym_1", "invalid symbol"]
    assert only(messages, "series_error")[0]["p"] == [
        CS,
        "sds_1",
        "s1",
        "resolve error",
        "undefined",
    ]
    assert "series_completed" not in methods(messages)


@pytest.mark.parametrize(
    ("params", "args"),
    [
        (["sds_1", "s1", "sds_sym_1", "1h", 300, ""], "[sds_1, s1, sds_sym_1, 1h, 300, ]"),
        (["$prices", "s1", "ser_1", "XX", 100], "[$prices, s1, ser_1, XX, 100]"),
    ],
)
async def test_malformed_resolution_is_a_critical_error(
    sim: Simulator, params: list[Any], args: str
) -> None:
    async with peer_of(sim) as peer:
        await peer.send(
            ("chart_create_session", [CS, ""]),
            ("resolve_symbol", [CS, params[2], "NASDAQ:AAPL"]),
            ("create_series", [CS, *params]),
        )
        messages = await peer.until("critical_error")
    assert only(messages, "critical_error")[0]["p"] == [
        CS,
        "invalid parameters",
        f'method: create_series. args: "{args}"',
    ]


async def test_bad_timezone_is_a_critical_error(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(
            ("chart_create_session", [CS, ""]),
            ("switch_timezone", [CS, "Asia/Kolkata"]),
            ("switch_timezone", [CS, "Nowhere/Nowhere"]),
        )
        messages = await peer.until("critical_error")
    assert methods(messages) == ["<hello>", "critical_error"]
    assert messages[1]["p"] == [
        CS,
        "invalid timezone",
        'method: switch_timezone. args: "[Nowhere/Nowhere]"',
    ]


async def test_bad_token_gets_protocol_error_and_close(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(("set_auth_token", ["not a token"]), ("chart_create_session", [CS]))
        messages = await peer.until("protocol_error")
        with pytest.raises(ConnectionClosed):
            await peer.frame()
    assert messages[-1] == {"m": "protocol_error", "p": ["bad auth token"]}


async def test_seconds_need_an_entitlement(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(*series_calls(resolution="5S", count=10))
        anonymous = await peer.until("series_error")
    async with peer_of(sim) as peer:
        entitled = await load(peer, *series_calls(resolution="5S", count=10, token=JWT))
    assert only(anonymous, "series_error")[0]["p"] == [
        CS,
        "sds_1",
        "s1",
        "seconds_not_entitled",
        "undefined",
    ]
    assert len(bars_of(only(entitled, "timescale_update")[0])) == 10


async def test_unknown_session_is_a_protocol_error(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(("create_series", ["cs_missing", "s", "s1", "sym", "15m", 100]))
        messages = await peer.until("protocol_error")
    assert messages[-1]["p"] == [
        '{unknown_session_id,<<"create_series">>,<<"cs_missing">>,'
        '[<<"s">>,<<"s1">>,<<"sym">>,<<"15m">>,100]}'
    ]


async def test_unknown_methods_are_ignored(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(
            ("set_locale", ["en", "US"]),
            ("no_such_method", [1, 2]),
            ("quote_create_session", ["qs_1"]),
            *series_calls(count=5),
        )
        messages = await peer.until("series_completed")
    assert len(bars_of(only(messages, "timescale_update")[0])) == 5
    assert sim.stats.messages["no_such_method"] == 1
    assert sim.stats.messages["create_series"] == 1


# --- modify_series --------------------------------------------------------------------


async def test_modify_series_resolution_resets_then_reloads(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "D", 30))
        await peer.send(("modify_series", [CS, "sds_1", "s2", "sds_sym_1", "15", ""]))
        messages = await peer.until("series_completed")
    assert methods(messages) == [
        "series_loading",
        "timescale_update",
        "timescale_update",
        "series_completed",
    ]
    reset, update = only(messages, "timescale_update")
    assert reset["p"][1] == {"sds_1": {"s": [], "ns": {"d": "", "indexes": []}, "t": "s2"}}
    points = bars_of(update)
    assert [p["i"] for p in points] == list(range(30))
    assert points[1]["v"][0] - points[0]["v"][0] == 900
    assert messages[-1]["p"][3] == "s2"


async def test_modify_series_symbol_change_resolves_the_new_symbol(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "D", 30))
        await peer.send(
            (
                "resolve_symbol",
                [
                    CS,
                    "ser_2",
                    '={"symbol":{"symbol":"BINANCE:ETHEUR"},'
                    '"type":"BarSetHeikenAshi@tv-basicstudies-60!"}',
                ],
            ),
            ("modify_series", [CS, "sds_1", "s1", "ser_2", "D", ""]),
        )
        messages = await peer.until("series_completed")
    assert methods(messages)[:2] == ["series_loading", "symbol_resolved"]
    assert only(messages, "symbol_resolved")[0]["p"][2]["full_name"] == "BINANCE:ETHEUR"


async def test_modify_series_range_pages_then_series_timeframe(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        first = await load(peer, *series_calls("BINANCE:BTCUSDT", "60", 24))
        start = bars_of(only(first, "timescale_update")[0])[0]["v"][0]
        frm, to = int(start - 10 * 3600), int(start + 5 * 3600)
        await peer.send(("modify_series", [CS, "sds_1", "s1", "sds_sym_1", "60", f"r,{frm}:{to}"]))
        messages = await peer.until("series_completed")
    assert methods(messages) == [
        "series_loading",
        "timescale_update",
        "series_timeframe",
        "series_timeframe",
        "series_completed",
    ]
    assert [p["i"] for p in bars_of(messages[1])] == list(range(-10, 0))
    timeframes = only(messages, "series_timeframe")
    assert [m["p"] for m in timeframes] == [
        [CS, "sds_1", "s1", -10, 5, f"r,{frm}:{to}", final] for final in (False, True)
    ]
    assert all("t" not in m for m in timeframes)


# --- live updates ---------------------------------------------------------------------


async def test_advance_sends_final_bars_then_the_forming_bar(sim: Simulator) -> None:
    symbol = CATALOGUE["BINANCE:BTCUSDT"]
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 10))
        frames_before = len(peer.frames)
        now = await sim.advance(150)
        messages = await peer.until("du", 3)
    assert len(peer.frames) == frames_before + 1, "all du of one push share one frame"
    final = rows(sim.market.bars_before(symbol, "1", DEFAULT_START + 120, 2, now=now))
    forming = rows(sim.market.bars_before(symbol, "1", now + 1, 1, now=now))[0]
    assert forming[0] == DEFAULT_START + 120 and forming != final[-1]
    bodies = [m["p"][1]["sds_1"] for m in messages]
    assert all(list(b) == ["s", "ns", "t", "lbs"] for b in bodies)
    assert all(b["ns"] == {"d": "", "indexes": "nochange"} and b["t"] == "s1" for b in bodies)
    assert all(list(m) == ["m", "p"] for m in messages)
    assert [[(p["i"], p["v"]) for p in b["s"]] for b in bodies] == [
        [(9, final[0]), (10, final[1])],
        [(10, final[1]), (11, forming)],
        [(11, forming)],
    ]
    assert bodies[-1]["lbs"] == {"bar_close_time": int(DEFAULT_START + 180)}
    event = decode_message(orjson.dumps(messages[-1]).decode())
    assert isinstance(event, DataUpdate) and event.series[0].bars.index.tolist() == [11]


async def test_forming_bar_updates_keep_the_index(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "60", 3))
        await sim.advance(20)
        first = (await peer.until("du"))[-1]
        await sim.advance(20)
        second = (await peer.until("du"))[-1]
    one, two = bars_of(first)[0], bars_of(second)[0]
    assert one["i"] == two["i"] == 2 and one["v"][0] == two["v"][0]
    assert two["v"][2] >= one["v"][2] and two["v"][3] <= one["v"][3]


async def test_removed_series_stops_updating(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 3))
        await load(peer, ("create_series", [CS, "sds_2", "s1", "sds_sym_1", "5", 3]))
        # request_more_data's reply proves the server has handled the removal before advancing.
        await load(peer, ("remove_series", [CS, "sds_1"]), ("request_more_data", [CS, "sds_2", 1]))
        await sim.advance(30)
        messages = await peer.until("du")
    assert list(messages[-1]["p"][1]) == ["sds_2"]


async def test_two_chart_sessions_on_one_socket(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(
            *series_calls("NASDAQ:AAPL", "1", 10, cs="cs_one"),
            *series_calls("SP:SPX", "5", 20, cs="cs_two", sid="sds_9", sym_id="sym_9")[1:],
        )
        messages = await peer.until("series_completed", 2)
        await sim.advance(60)
        updates = await peer.until("du", 3)  # AAPL 1m: closed bar + forming; SPX 5m: forming
    completed = only(messages, "series_completed")
    assert [(m["p"][0], m["p"][1]) for m in completed] == [("cs_one", "sds_1"), ("cs_two", "sds_9")]
    sizes = {
        m["p"][0]: len(next(iter(m["p"][1].values()))["s"])
        for m in only(messages, "timescale_update")
    }
    assert sizes == {"cs_one": 10, "cs_two": 20}
    assert {(m["p"][0], next(iter(m["p"][1]))) for m in updates} == {
        ("cs_one", "sds_1"),
        ("cs_two", "sds_9"),
    }


async def test_realtime_clock_pushes_updates_by_itself() -> None:
    clock = SimClock(DEFAULT_START, realtime=True)
    async with Simulator(SimConfig(update_period=0.02), clock) as sim, peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 5))
        updates = await peer.until("du", 2)
    indexes = [p["i"] for m in only(updates, "du") for p in bars_of(m)]
    assert indexes and set(indexes) <= {4, 5}
    with pytest.raises(RuntimeError):
        await sim.advance(1)


async def test_bar_close_time_is_the_markets_across_the_maintenance_break() -> None:
    """ES1! 4h bars: the 13:00 bar ends at the 16:00 break, not when the 17:00 bar opens."""
    es = CATALOGUE["CME_MINI:ES1!"]
    chicago = ZoneInfo("America/Chicago")
    start = datetime(2026, 11, 3, 14, 0, tzinfo=chicago).timestamp()
    async with Simulator(clock=SimClock(start)) as sim, peer_of(sim) as peer:
        loaded = await load(peer, *series_calls("CME_MINI:ES1!", "240", 10))
        await sim.advance(3600)  # the 13:00 bar is still forming
        forming = await peer.until("du")
        await sim.advance(3.5 * 3600)  # 18:30: the 13:00 bar is final, the 17:00 bar forms
        after_break = await peer.until("du", 2)
    messages = [*only(loaded, "timescale_update"), *only(forming, "du"), *only(after_break, "du")]
    sent = [(bars_of(m)[-1]["v"][0], m["p"][1]["sds_1"]["lbs"]["bar_close_time"]) for m in messages]
    assert sent == [(t, int(sim.market.bar_close(es, "240", t) or 0)) for t, _ in sent]
    thirteen = datetime(2026, 11, 3, 13, 0, tzinfo=chicago).timestamp()
    assert sent[0] == (thirteen, thirteen + 3 * 3600), "cut at the 16:00 maintenance break"
    assert sent[1] == sent[0]
    assert [t for t, _ in sent[2:]] == [thirteen + 4 * 3600] * 2


# --- sync handle ----------------------------------------------------------------------


def test_running_sets_the_url_and_stops_its_thread() -> None:
    os.environ["TVFRAME_URL"] = "ws://previous"
    try:
        with running(bars_per_request=10) as handle:
            assert isinstance(handle, SimHandle)
            assert os.environ["TVFRAME_URL"] == handle.url
            assert handle.url == f"ws://127.0.0.1:{handle.port}/socket.io/websocket"
            with sync_connect(handle.url, compression=None) as ws:
                assert '"session_id"' in str(ws.recv(timeout=TIMEOUT))
                ws.send("".join(encode_message(m, list(p)) for m, p in series_calls(count=50)))
                replies = str(ws.recv(timeout=TIMEOUT))
                assert handle.advance(60) == DEFAULT_START + 60
                live = str(ws.recv(timeout=TIMEOUT))
            assert handle.config.bars_per_request == 10 and handle.stats.connections == 1
        assert os.environ["TVFRAME_URL"] == "ws://previous"
        assert not [t for t in threading.enumerate() if t.name == "tvframe-sim"]
    finally:
        del os.environ["TVFRAME_URL"]
    assert replies.count('{"i":') == 10
    assert '"m":"du"' in live


async def test_a_handshake_with_two_origin_headers_is_accepted() -> None:
    """tvdatafeed sends Origin twice (protocol.md §12.1); the real server takes it."""
    import websockets.asyncio.client as wsclient

    async with Simulator() as simulator:
        headers = [("Origin", "https://data.tradingview.com"), ("Origin", "https://x.example")]
        async with wsclient.connect(
            simulator.url, additional_headers=headers, origin=None, compression=None
        ) as ws:
            hello = await asyncio.wait_for(ws.recv(), 5)
    assert "session_id" in str(hello)
