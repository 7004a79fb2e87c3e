"""Quote sessions of the simulator, driven by a raw websockets client (protocol.md §9, §12.18)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest

from tests.sim.test_server import Peer, load, only, peer_of, series_calls
from tvframe.protocol import QuoteCompleted, QuoteData, decode_message
from tvframe.sim import DEFAULT_START, SimClock, Simulator
from tvframe.sim.catalogue import CATALOGUE, UNIVERSE_SIZE, find_symbol, universe

QS = "qs_testquotes01"
MANY = 120
BTC = "BINANCE:BTCUSDT"
#: The fields the lead's client asks for (tests/client/test_stream.py).
CLIENT_FIELDS = ["lp", "ch", "chp", "volume", "bid", "ask", "current_session", "update_mode"]
STATIC = {
    "description",
    "local_description",
    "exchange",
    "listed_exchange",
    "type",
    "currency_code",
    "pricescale",
    "minmov",
    "minmove2",
    "fractional",
    "short_name",
    "pro_name",
    "original_name",
    "is_tradable",
    "timezone",
    "format",
    "update_mode",
}
ALL_FIELDS = [
    "lp", "lp_time", "ch", "chp", "prev_close_price", "open_price", "high_price", "low_price",
    "volume", "bid", "ask", "bid_size", "ask_size", "current_session", *sorted(STATIC),
]  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


async def subscribe(peer: Peer, fields: list[str], *keys: Any, qs: str = QS) -> None:
    await peer.send(
        ("quote_create_session", [qs]),
        ("quote_set_fields", [qs, *fields]),
        ("quote_add_symbols", [qs, *keys]),
    )


def last_price(sim: Simulator, name: str, now: float) -> float:
    """The forming 1-minute bar's close, the market's last price."""
    return float(sim.market.bars_before(CATALOGUE[name], "1", now + 1, 1, now=now).close[-1])


def quotes(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``{"n","s","v"}`` bodies of every qsd."""
    return [m["p"][1] for m in only(messages, "qsd")]


async def test_qsd_then_quote_completed_with_the_requested_fields(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, [*CLIENT_FIELDS, "fundamentals"], BTC)
        messages = await peer.until("quote_completed")
    qsd, completed = messages[-2:]
    assert list(qsd) == ["m", "p"] and list(completed) == ["m", "p"], "no t/t_ms stamps"
    assert qsd["p"][0] == QS and list(qsd["p"][1]) == ["n", "s", "v"]
    body = qsd["p"][1]
    assert body["n"] == BTC and body["s"] == "ok"
    assert list(body["v"]) == CLIENT_FIELDS, "requested order; absent fields left out"
    assert isinstance(body["v"]["lp"], float)
    assert body["v"]["update_mode"] == "streaming" and body["v"]["current_session"] == "market"
    assert completed["p"] == [QS, BTC]
    event = decode_message(orjson.dumps(qsd).decode())
    assert isinstance(event, QuoteData) and event.values["lp"] == body["v"]["lp"]
    assert isinstance(decode_message(orjson.dumps(completed).decode()), QuoteCompleted)


async def test_keys_are_echoed_byte_for_byte_as_separate_subscriptions(sim: Simulator) -> None:
    keys = [BTC, "BTCUSDT", '={"adjustment": "splits", "symbol": "BINANCE:BTCUSDT"}',
            '={"session":"regular","symbol":"BTCUSDT"}']  # fmt: skip
    async with peer_of(sim) as peer:
        await subscribe(peer, ["lp", "pro_name"], *keys)
        messages = await peer.until("quote_completed", len(keys))
    assert [b["n"] for b in quotes(messages)] == keys
    assert [m["p"][1] for m in only(messages, "quote_completed")] == keys
    assert len({orjson.dumps(b["v"]) for b in quotes(messages)}) == 1, "one symbol, same values"


async def test_unknown_symbol_gets_an_error_qsd_and_no_completion(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ["lp"], "NOPE:NOTHING", "KO")
        messages = await peer.until("quote_completed")
    assert [m["m"] for m in messages[1:]] == ["qsd", "qsd", "quote_completed"]
    assert messages[1]["p"] == [
        QS,
        {"n": "NOPE:NOTHING", "s": "error", "errmsg": "no_such_symbol", "v": {}},
    ]
    assert messages[-1]["p"] == [QS, "KO"]


async def test_values_come_from_the_market(sim: Simulator) -> None:
    symbol = CATALOGUE["NASDAQ:AAPL"]
    async with peer_of(sim) as peer:
        await subscribe(peer, ALL_FIELDS, "NASDAQ:AAPL")
        v = quotes(await peer.until("quote_completed"))[0]["v"]
    now = DEFAULT_START
    minute = sim.market.bars_before(symbol, "1", now + 1, 1, now=now)
    days = sim.market.bars_before(symbol, "1D", now + 1, 2, now=now)
    assert v["lp"] == minute.close[-1] and v["lp_time"] == int(now)
    assert v["prev_close_price"] == days.close[0]
    assert (v["open_price"], v["high_price"], v["low_price"], v["volume"]) == (
        days.open[1],
        days.high[1],
        days.low[1],
        days.volume[1],
    )
    assert v["ch"] == round(v["lp"] - v["prev_close_price"], 2)
    assert v["chp"] == round(v["ch"] / v["prev_close_price"] * 100, 2)
    assert (v["bid"], v["ask"]) == (round(v["lp"] - 0.01, 2), round(v["lp"] + 0.01, 2))
    assert v["bid_size"] > 0 and v["ask_size"] > 0
    assert {k: v[k] for k in ("pro_name", "short_name", "type", "pricescale", "minmov")} == {
        "pro_name": "NASDAQ:AAPL",
        "short_name": "AAPL",
        "type": "stock",
        "pricescale": 100,
        "minmov": 1,
    }
    assert (v["minmove2"], v["fractional"], v["format"]) == (0, False, "price")
    assert "local_description" not in v


async def test_symbol_specific_fields(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ["local_description", "volume", "type", "bid", "ask"],
                        "KRX:005930", "SP:SPX", BTC)  # fmt: skip
        bodies = quotes(await peer.until("quote_completed", 3))
    korean, index, crypto = (b["v"] for b in bodies)
    assert korean["local_description"] == "삼성전자 📈"
    assert korean["ask"] - korean["bid"] == 200.0, "one tick of 100 each side"
    assert "volume" not in index and index["type"] == "index"
    assert crypto["type"] == "spot"


async def test_current_session_is_out_of_session_on_a_weekend() -> None:
    saturday = datetime(2026, 11, 7, 15, tzinfo=timezone.utc).timestamp()
    async with Simulator(clock=SimClock(saturday)) as sim, peer_of(sim) as peer:
        await subscribe(peer, ["current_session", "lp_time"], "NASDAQ:AAPL", BTC)
        stock, crypto = (b["v"] for b in quotes(await peer.until("quote_completed", 2)))
    friday_close = datetime(2026, 11, 6, 21, tzinfo=timezone.utc).timestamp()
    assert stock == {"current_session": "out_of_session", "lp_time": int(friday_close)}
    assert crypto == {"current_session": "market", "lp_time": int(saturday)}


async def test_advance_sends_sparse_diffs(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ALL_FIELDS, BTC)
        first = quotes(await peer.until("quote_completed"))[0]["v"]
        now = await sim.advance(90)
        diff = quotes(await peer.until("qsd"))[0]
    assert diff["n"] == BTC and diff["s"] == "ok"
    changed = diff["v"]
    assert changed and not STATIC & set(changed), "static fields never repeat"
    assert all(first[k] != value for k, value in changed.items()), "only changed values"
    assert {"lp", "lp_time", "bid", "ask"} <= set(changed)
    forming = sim.market.bars_before(CATALOGUE[BTC], "1", now + 1, 1, now=now)
    assert changed["lp"] == forming.close[-1] and changed["lp_time"] == int(now)


async def test_nothing_changed_nothing_sent(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ["description", "pricescale"], BTC)
        await peer.until("quote_completed")
        await sim.advance(60)
        messages = await load(peer, *series_calls(count=3))
    assert only(messages, "qsd") == []


async def test_remove_hibernate_and_delete_stop_the_diffs(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ["lp"], BTC, "ETHUSDT")
        await subscribe(peer, ["lp"], "COINBASE:BTCUSD", qs="qs_other")
        await peer.until("quote_completed", 3)
        await peer.send(("quote_remove_symbols", [QS, "ETHUSDT"]),
                        ("quote_hibernate_all", ["qs_other"]),
                        ("quote_fast_symbols", [QS, BTC]))  # fmt: skip
        await load(peer, *series_calls(count=3))  # the server has handled the above
        await sim.advance(60)
        pushed = quotes(await peer.until("qsd"))
        await peer.send(("quote_delete_session", [QS]), ("quote_add_symbols", [QS, BTC]))
        closing = await peer.until("protocol_error")
    assert [b["n"] for b in pushed] == [BTC]
    assert closing[-1]["p"][0].startswith('{unknown_session_id,<<"quote_add_symbols">>')


async def test_adding_symbols_wakes_a_hibernating_session(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ["lp"], BTC)
        await peer.until("quote_completed")
        await peer.send(("quote_hibernate_all", [QS]), ("quote_add_symbols", [QS, "ETHUSDT"]))
        await peer.until("quote_completed")
        await sim.advance(60)
        pushed = quotes(await peer.until("qsd", 2))
    assert sorted(b["n"] for b in pushed) == ["BINANCE:BTCUSDT", "ETHUSDT"]


async def test_flags_param_is_a_critical_error_that_spares_the_socket(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await subscribe(peer, ["lp"], BTC, {"flags": ["force_permission"]})
        error = await peer.until("critical_error")
        await peer.send(("quote_add_symbols", [QS, BTC]))
        retried = await peer.until("quote_completed")
        loaded = await load(peer, *series_calls(count=3))
    assert error[-1]["p"] == [QS, "invalid_parameters", "quote_add_symbols"]
    assert only(error, "qsd") == [], "nothing of the refused call is subscribed"
    assert quotes(retried)[0]["n"] == BTC
    assert only(loaded, "series_completed")


async def test_a_hundred_and_twenty_symbols_on_one_socket(sim: Simulator) -> None:
    # Subscribing costs ~13 ms a symbol (the market builds each one's minutes): 120 keep the
    # first reply well inside the 5 s frame timeout.
    names = [s.full_name for s in universe(MANY)]
    async with peer_of(sim) as peer:
        await subscribe(peer, ["lp", "pro_name", "current_session"], *names)
        messages = await peer.until("quote_completed", MANY)
        now = await sim.advance(600)
        pushed = quotes(await load(peer, *series_calls(count=3)))  # the push precedes the reply
    first = quotes(messages)
    assert [b["v"]["pro_name"] for b in first] == names
    assert len({b["v"]["lp"] for b in first}) > MANY * 0.9, "distinct prices"
    assert {b["v"]["current_session"] for b in first} == {"market"}
    before = {b["n"]: b["v"]["lp"] for b in first}
    movers = {name: lp for name in names if (lp := last_price(sim, name, now)) != before[name]}
    assert len(movers) > MANY * 0.75
    assert {b["n"]: b["v"]["lp"] for b in pushed} == movers, "a diff for each mover, no other"


def test_universe_symbols_resolve_and_alternate_sessions() -> None:
    t042, t043 = find_symbol("SIMX:T042"), find_symbol("simx:t043")
    assert t042 is not None and t043 is not None
    assert (t042.session, t042.type) == ("24x7", "crypto")
    assert (t043.session, t043.type, t043.timezone) == ("0930-1600", "stock", "America/New_York")
    assert CATALOGUE["SIMX:T199"] == universe()[-1] and len(universe()) == UNIVERSE_SIZE
    assert universe(2) == universe()[:2]
    with pytest.raises(ValueError, match="201"):
        universe(201)
