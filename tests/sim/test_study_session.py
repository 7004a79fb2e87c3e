"""Studies over the simulator's WebSocket: create/modify/remove_study, warm-up history, paging,
live points, errors and limits (the studies contract), driven by a raw client."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import orjson
import pytest

from tests.sim.test_server import (
    CS,
    Call,
    Peer,
    bars_of,
    load,
    methods,
    only,
    peer_of,
    series_calls,
)
from tvframe.protocol import DataUpdate, decode_message, symbol_descriptor
from tvframe.sim import SimConfig, Simulator
from tvframe.sim.catalogue import CATALOGUE
from tvframe.sim.market import HISTORY_START
from tvframe.sim.studies import STUDIES, Ohlcv, resolve, trading_days

NA = 1e100
FULL_NS = {"d": "", "indexes": []}
LIVE_NS = {"d": "", "indexes": "nochange"}
STAMPED = {"study_loading", "study_completed", "study_deleted"}
COLUMNS = ("time", "open", "high", "low", "close", "volume")
SCRIPT = "Script@tv-scripting-101!"
CLASSIC: dict[str, dict[str, Any]] = {
    "RSI": {"length": 7},
    "MASimple": {"source": "hl2"},
    "MAExp": {},
    "MAWeighted": {"length": 5},
    "MACD": {"fastLength": 6, "slowLength": 13, "signalLength": 4},
    "BB": {"mult": 1.5},
    "Stochastic": {"smoothK": 3},
    "ATR": {},
    "VWAP": {},
    "Volume": {"length": 20, "col_prev_close": "false"},
}


@pytest.fixture
async def sim() -> Any:
    async with Simulator() as simulator:
        yield simulator


def create(
    study_id: str,
    study_type: str,
    inputs: dict[str, Any] | None = None,
    turnaround: str = "st1",
    parent: str = "sds_1",
) -> Call:
    return ("create_study", [CS, study_id, turnaround, parent, study_type, inputs or {}])


def classic(name: str) -> str:
    return f"{name}@tv-basicstudies-{246 if name == 'Volume' else 1}"


def body(message: dict[str, Any], study_id: str) -> dict[str, Any]:
    obj: dict[str, Any] = message["p"][1][study_id]
    return obj


def bodies(messages: list[dict[str, Any]], *study_ids: str) -> list[dict[str, Any]]:
    """The study objects of the messages' ``du``, one per study id, in order."""
    return [body(m, k) for m, k in zip(only(messages, "du"), study_ids, strict=True)]


def indexes(obj: dict[str, Any]) -> list[int]:
    return [p["i"] for p in obj["st"]]


def values(obj: dict[str, Any]) -> np.ndarray:
    rows = np.array([p["v"] for p in obj["st"]], dtype=np.float64)
    return np.where(rows == NA, np.nan, rows)


def expected(
    sim: Simulator,
    symbol: str,
    resolution: str,
    first_time: float,
    study_type: str,
    inputs: dict[str, Any],
    *,
    extra: int = 100,
    adjustment: str = "splits",
) -> np.ndarray:
    """Time and plots over ``extra`` older bars and the series' bars, from the market."""
    now, sym = sim.clock.now(), CATALOGUE[symbol]
    older = sim.market.bars_before(
        sym, resolution, first_time, extra, now=now, adjustment=adjustment
    )
    own = sim.market.bars_between(
        sym, resolution, first_time, now + 1, now=now, adjustment=adjustment
    )
    cols = {c: np.concatenate((getattr(older, c), getattr(own, c))) for c in COLUMNS}
    volume = cols["volume"] if sym.has_volume else np.full(len(cols["time"]), np.nan)
    days = trading_days(cols["time"], sym.timezone, sym.session)
    bars = Ohlcv(cols["open"], cols["high"], cols["low"], cols["close"], volume, days)
    study, params = resolve(study_type, inputs)
    return np.column_stack((cols["time"], *study.run(bars, params)))


def first_time(messages: list[dict[str, Any]]) -> float:
    start: float = bars_of(only(messages, "timescale_update")[0])[0]["v"][0]
    return start


async def http_get(sim: Simulator, target: str) -> tuple[int, str, Any]:
    """GET from the simulator's port, off the event loop that serves it."""

    def fetch() -> tuple[int, str, Any]:
        url = f"http://127.0.0.1:{sim.port}{target}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.headers["Content-Type"], response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers["Content-Type"], exc.read()

    status, kind, raw = await asyncio.to_thread(fetch)
    return status, kind, orjson.loads(raw) if raw.startswith(b"{") else raw


async def pine_inputs(sim: Simulator, pine_id: str, **values: Any) -> dict[str, Any]:
    """Inputs as TVAPI builds them from pine-facade's translate answer."""
    encoded = pine_id.replace(";", "%3B")
    status, _, answer = await http_get(sim, f"/pine-facade/translate/{encoded}/last")
    assert status == 200
    meta = answer["result"]["metaInfo"]
    inputs: dict[str, Any] = {
        "text": answer["result"]["ilTemplate"],
        "pineId": pine_id,
        "pineVersion": meta["pine"]["version"],
        "pineFeatures": {"v": '{"indicator":1,"plot":1,"ta":1}', "f": True, "t": "text"},
    }
    for spec in meta["inputs"]:
        value = values.get(spec["id"], spec["defval"])
        inputs[spec["id"]] = {"v": value, "f": True, "t": spec["type"]}
    inputs["__profile"] = {"v": False, "f": True, "t": "bool"}
    return inputs


async def errors_of(peer: Peer, *calls: Call) -> list[list[Any]]:
    await peer.send(*calls)
    return [m["p"] for m in only(await peer.until("study_error", len(calls)), "study_error")]


# --- full sets --------------------------------------------------------------------------------


async def test_the_ten_classic_studies(sim: Simulator) -> None:
    calls = [create(f"st_{k}", classic(n), CLASSIC[n], f"st{k}") for k, n in enumerate(CLASSIC)]
    async with peer_of(sim) as peer:
        await peer.send(*series_calls("NASDAQ:AAPL", "5", 300), *calls)
        messages = await peer.until("study_completed", len(CLASSIC))
    tail = messages[methods(messages).index("series_completed") + 1 :]
    assert methods(tail) == ["study_loading", "du", "study_completed"] * len(CLASSIC)
    start = first_time(messages)
    for k, name in enumerate(CLASSIC):
        loading, update, completed = tail[3 * k : 3 * k + 3]
        head = [CS, f"st_{k}", f"s1_st{k}"]
        assert loading["p"] == head and completed["p"] == head
        assert {"t", "t_ms"} <= set(loading) and {"t", "t_ms"} <= set(completed)
        assert list(update) == ["m", "p"]
        obj = body(update, f"st_{k}")
        assert list(obj) == ["node", "st", "ns", "t"]
        assert obj["node"] == "sim1-charts-free-1-study-1"
        assert obj["ns"] == FULL_NS and obj["t"] == f"s1_st{k}"
        assert indexes(obj) == [*range(-1_000_100, -1_000_000), *range(300)]
        assert all(len(p["v"]) == 1 + len(STUDIES[name].plots) for p in obj["st"])
        want = expected(sim, "NASDAQ:AAPL", "5", start, classic(name), CLASSIC[name])
        np.testing.assert_array_equal(values(obj), want, err_msg=name)
    assert "1e+100" in "".join(peer.frames), "na is sent as TradingView writes it"
    assert sim.stats.studies_created == len(CLASSIC)
    event = decode_message(orjson.dumps(only(messages, "du")[0]).decode())
    assert isinstance(event, DataUpdate) and event.studies[0].study_id == "st_0"


async def test_pine_studies_after_translate_over_http(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        loaded = await load(peer, *series_calls("BINANCE:BTCUSDT", "15", 200))
        rsi = await pine_inputs(sim, "STD;RSI", in_0=9)
        bands = await pine_inputs(sim, "STD;Bollinger_Bands", in_1=2.5, in_2="ohlc4")
        await peer.send(create("st_r", SCRIPT, rsi), create("st_b", SCRIPT, bands, "st2"))
        messages = await peer.until("study_completed", 2)
    start = first_time(loaded)
    rsi_obj, bands_obj = bodies(messages, "st_r", "st_b")
    assert rsi_obj["t"] == "s1_st1" and bands_obj["t"] == "s1_st2"
    want_rsi = expected(sim, "BINANCE:BTCUSDT", "15", start, "RSI@tv-basicstudies-1", {"length": 9})
    bb_inputs = {"mult": 2.5, "source": "ohlc4"}
    want_bands = expected(sim, "BINANCE:BTCUSDT", "15", start, "BB@tv-basicstudies-1", bb_inputs)
    np.testing.assert_array_equal(values(rsi_obj), want_rsi)
    np.testing.assert_array_equal(values(bands_obj), want_bands)
    assert indexes(rsi_obj)[:2] == [-1_000_100, -1_000_099]


async def test_translate_and_the_other_http_paths(sim: Simulator) -> None:
    status, kind, answer = await http_get(sim, "/pine-facade/translate/STD%3BVolume/44.0")
    assert (status, kind) == (200, "application/json; charset=utf-8")
    assert answer["result"]["metaInfo"]["styles"]["plot_1"] == {"title": "Volume MA"}
    status, _, answer = await http_get(sim, "/pine-facade/translate/STD%3BSupertrend/last")
    assert (status, answer) == (404, {"success": False, "reason": "script not found"})
    status, _, answer = await http_get(sim, "/symbol_search/v3/?text=aapl")
    assert status == 200 and answer["symbols"][0]["symbol"] == "AAPL"
    status, _, answer = await http_get(sim, "/other")
    assert (status, answer) == (404, b"Not Found\n")


async def test_series_completed_comes_before_study_completed(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await peer.send(*series_calls("NASDAQ:AAPL", "60", 50), create("st_1", classic("RSI")))
        messages = await peer.until("study_completed")
    names = methods(messages)
    assert names.index("series_completed") < names.index("study_loading")
    assert len(peer.frames) == 2, "the study's messages share the frame of the series'"


async def test_warm_up_history_is_capped_by_config_and_by_history() -> None:
    early = int(HISTORY_START + 30 * 86_400)  # BTC trades daily: 31 bars exist up to here
    async with Simulator(SimConfig(study_extra_bars=30)) as sim, peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "60", 50))
        await peer.send(create("st_1", classic("MAExp")))
        short = body(only(await peer.until("study_completed"), "du")[0], "st_1")
        count = ["bar_count", early, 10]
        await load(peer, ("create_series", [CS, "sds_2", "s1", "sds_sym_1", "1D", count]))
        await peer.send(create("st_2", classic("MAExp"), parent="sds_2"))
        first = body(only(await peer.until("study_completed"), "du")[0], "st_2")
    assert indexes(short) == [*range(-1_000_030, -1_000_000), *range(50)]
    assert indexes(first) == [*range(-1_000_021, -1_000_000), *range(10)], "history starts"
    assert first["st"][0]["v"][0] == HISTORY_START


async def test_a_symbol_without_volume_has_na_volume_studies(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        loaded = await load(peer, *series_calls("SP:SPX", "5", 100))
        await peer.send(
            create("st_v", classic("VWAP")),
            create("st_vol", classic("Volume")),
            create("st_r", classic("RSI")),
        )
        messages = await peer.until("study_completed", 3)
    vwap, volume, rsi = bodies(messages, "st_v", "st_vol", "st_r")
    for obj in (vwap, volume):
        assert len(obj["st"]) == 200
        assert all(set(p["v"][1:]) == {NA} for p in obj["st"])
    want = expected(sim, "SP:SPX", "5", first_time(loaded), "RSI@tv-basicstudies-1", {})
    np.testing.assert_array_equal(values(rsi), want)


async def test_studies_compute_on_dividend_adjusted_bars(sim: Simulator) -> None:
    descriptor = symbol_descriptor("NASDAQ:AAPL", adjustment="dividends")
    calls = series_calls("NASDAQ:AAPL", "1D", 300)
    calls[2] = ("resolve_symbol", [CS, "sds_sym_1", descriptor])
    async with peer_of(sim) as peer:
        loaded = await load(peer, *calls)
        await peer.send(create("st_1", classic("MASimple")))
        obj = body(only(await peer.until("study_completed"), "du")[0], "st_1")
    start = first_time(loaded)
    study = "MASimple@tv-basicstudies-1"
    adjusted = expected(sim, "NASDAQ:AAPL", "1D", start, study, {}, adjustment="dividends")
    plain = expected(sim, "NASDAQ:AAPL", "1D", start, study, {})
    np.testing.assert_array_equal(values(obj), adjusted)
    assert not np.allclose(adjusted[100:, 1], plain[100:, 1]), "old bars are adjusted"


# --- paging and reloads -----------------------------------------------------------------------


async def test_request_more_data_resends_every_study_in_full() -> None:
    async with Simulator(SimConfig(bars_per_request=100)) as sim, peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "5", 100))
        await peer.send(create("st_1", classic("RSI")), create("st_2", classic("ATR"), {}, "st2"))
        await peer.until("study_completed", 2)
        await peer.send(("request_more_data", [CS, "sds_1", 60]))
        page = await peer.until("study_completed", 2)
    assert methods(page) == [
        "series_loading",
        "timescale_update",
        "series_completed",
        *["study_loading", "du", "study_completed"] * 2,
    ]
    start = bars_of(page[1])[0]["v"][0]
    for obj, name in zip(bodies(page, "st_1", "st_2"), ["RSI", "ATR"], strict=True):
        assert obj["ns"] == FULL_NS
        assert indexes(obj) == [*range(-1_000_100, -1_000_000), *range(-60, 100)]
        want = expected(sim, "BINANCE:BTCUSDT", "5", start, classic(name), {})
        np.testing.assert_array_equal(values(obj), want)


async def test_modify_series_reloads_the_studies_under_the_new_turnaround(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "60", 48))
        await peer.send(create("st_1", classic("MAWeighted")))
        await peer.until("study_completed")
        await peer.send(("modify_series", [CS, "sds_1", "s2", "sds_sym_1", "15", ""]))
        reload = await peer.until("study_completed")
        start = bars_of(only(reload, "timescale_update")[1])[0]["v"][0]
        frm, to = int(start - 10 * 900), int(start + 900)
        await peer.send(("modify_series", [CS, "sds_1", "s2", "sds_sym_1", "15", f"r,{frm}:{to}"]))
        ranged = await peer.until("study_completed")
        await peer.send(("modify_series", [CS, "sds_1", "s2", "sds_sym_1", "15", f"r,{frm}:{to}"]))
        inside = await peer.until("series_completed")
    assert methods(reload)[-4:] == ["series_completed", "study_loading", "du", "study_completed"]
    assert reload[-1]["p"] == [CS, "st_1", "s2_st1"]
    obj = body(only(reload, "du")[0], "st_1")
    assert indexes(obj)[100:102] == [0, 1] and obj["t"] == "s2_st1"
    assert methods(ranged)[-3:] == ["study_loading", "du", "study_completed"]
    assert indexes(body(only(ranged, "du")[0], "st_1"))[100] == -10
    assert "study_loading" not in methods(inside), "nothing paged in: the studies stand"


# --- live -------------------------------------------------------------------------------------


async def test_live_updates_carry_the_studies_points(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        loaded = await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 50))
        await peer.send(create("st_e", classic("MAExp")), create("st_v", classic("VWAP")))
        await peer.until("study_completed", 2)
        await sim.advance(150)
        closing = await peer.until("du", 3)
        await sim.advance(20)
        forming = await peer.until("du")
    start = first_time(loaded)
    want = {
        key: expected(sim, "BINANCE:BTCUSDT", "1", start, classic(name), {})
        for key, name in (("st_e", "MAExp"), ("st_v", "VWAP"))
    }
    for message in [*closing, *forming]:
        objects = message["p"][1]
        assert list(objects) == ["sds_1", "st_e", "st_v"], "one du: the bars, then the studies"
        for key in ("st_e", "st_v"):
            obj = objects[key]
            assert list(obj) == ["st", "ns", "t"] and obj["ns"] == LIVE_NS
            assert obj["t"] == "s1_st1"
            assert indexes(obj) == [p["i"] for p in objects["sds_1"]["s"]]
    for key in ("st_e", "st_v"):
        closed, newest = body(closing[0], key), body(forming[0], key)
        assert indexes(closed) == [49, 50] and indexes(newest) == [51]
        # Point i sits at row 100 + i of the span: the older bars come first.
        np.testing.assert_array_equal(values(closed), want[key][149:151])
        np.testing.assert_array_equal(values(newest), want[key][151:152])


async def test_remove_study_then_updates_stop(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "1", 30))
        await peer.send(create("st_1", classic("RSI")), create("st_2", classic("ATR")))
        await peer.until("study_completed", 2)
        await peer.send(("remove_study", [CS, "st_1"]), ("remove_study", [CS, "st_nope"]))
        deleted = await peer.until("study_deleted")
        await sim.advance(30)
        update = await peer.until("du")
    assert deleted[-1]["p"] == [CS, "st_1", "s1_st1"] and {"t", "t_ms"} <= set(deleted[-1])
    assert list(update[-1]["p"][1]) == ["sds_1", "st_2"]


async def test_modify_study_recomputes_and_a_refused_change_keeps_the_study(
    sim: Simulator,
) -> None:
    async with peer_of(sim) as peer:
        loaded = await load(peer, *series_calls("BINANCE:BTCUSDT", "5", 120))
        pine = await pine_inputs(sim, "STD;EMA")
        await peer.send(create("st_1", classic("MASimple")), create("st_2", SCRIPT, pine, "st9"))
        await peer.until("study_completed", 2)
        await peer.send(
            ("modify_study", [CS, "st_1", "st3", {"length": 4, "source": "low"}]),
            ("modify_study", [CS, "st_2", "st9", {"in_0": {"v": 3, "f": True, "t": "integer"}}]),
        )
        modified = await peer.until("study_completed", 2)
        start = first_time(loaded)
        low4 = {"length": 4, "source": "low"}
        sma4 = expected(sim, "BINANCE:BTCUSDT", "5", start, "MASimple@tv-basicstudies-1", low4)
        ema3 = expected(
            sim, "BINANCE:BTCUSDT", "5", start, "MAExp@tv-basicstudies-1", {"length": 3}
        )
        errors = await errors_of(peer, ("modify_study", [CS, "st_1", "st4", {"length": -3}]))
        await peer.send(("modify_study", [CS, "st_missing", "st1", {}]))
        await sim.advance(60)
        live = await peer.until("du")
    assert methods(modified) == ["study_loading", "du", "study_completed"] * 2
    assert modified[0]["p"] == [CS, "st_1", "s1_st3"]
    got_sma, got_ema = bodies(modified, "st_1", "st_2")
    np.testing.assert_array_equal(values(got_sma), sma4)
    np.testing.assert_array_equal(values(got_ema), ema3)
    assert errors[0][:3] == [CS, "st_1", "s1_st4"]
    assert "'length' argument" in errors[0][3]["error"]
    assert list(live[-1]["p"][1]) == ["sds_1", "st_1", "st_2"]
    assert live[-1]["p"][1]["st_1"]["t"] == "s1_st3", "the refused change left the study be"


# --- errors and limits ------------------------------------------------------------------------


def runtime(error: str, value: Any) -> dict[str, Any]:
    """The Pine runtime error object of the contract."""
    return {"error": error, "ctx": {"value": value}, "stack_trace": [{"n": "#main", "p": 1}]}


def invalid(label: str, rule: str, value: Any) -> dict[str, Any]:
    return runtime(
        f"Invalid value of the '{label}' argument ({{value}}). It must be {rule}.", value
    )


def error_cases(rsi: dict[str, Any]) -> list[tuple[Call, Any]]:
    """Each refused create_study with the reason it must get; ``rsi`` is a valid Pine RSI."""
    unknown = "Internal server study error: unknown study "
    sources = "one of open, high, low, close, hl2, hlc3, ohlc4"
    as_source = {"v": "vwap", "f": True, "t": "source"}
    return [
        (create("e1", "Nope@tv-basicstudies-1"), unknown + "Nope@tv-basicstudies-1"),
        (
            create("e2", classic("RSI"), {"length": "fourteen"}),
            invalid("length", "an integer >= 1", "fourteen"),
        ),
        (create("e3", classic("BB"), {"mult": 0}), invalid("mult", "a number > 0", 0)),
        (
            create("e4", classic("ATR"), {"source": "close"}),
            runtime("Unknown input 'source'", "close"),
        ),
        (
            create("e5", SCRIPT, {**rsi, "in_7": {"v": 1, "f": True, "t": "integer"}}),
            runtime("Unknown input 'in_7'", 1),
        ),
        (create("e6", SCRIPT, {**rsi, "in_1": as_source}), invalid("Source", sources, "vwap")),
        (
            create("e7", SCRIPT, {**rsi, "text": "//@version=5"}),
            "Internal server study error: invalid script text",
        ),
        (create("e8", SCRIPT, {**rsi, "pineId": "USER;123"}), unknown + "USER;123"),
        (
            create("e9", "StrategyScript@tv-scripting-101!", rsi),
            unknown + "StrategyScript@tv-scripting-101!",
        ),
        (
            create("e10", classic("RSI"), parent="sds_9"),
            "Internal server study error: parent series sds_9 not found",
        ),
    ]


async def test_every_error_shape(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "5", 50))
        cases = error_cases(await pine_inputs(sim, "STD;RSI"))
        await peer.send(*(call for call, _ in cases))
        messages = await peer.until("study_error", len(cases))
    assert set(methods(messages)) == {"study_error"}
    node = "sim1-charts-free-1-study-1"
    for (call, reason), message in zip(cases, messages, strict=True):
        study_id = call[1][1]
        full = "st1" if study_id == "e10" else "s1_st1"
        assert message == {"m": "study_error", "p": [CS, study_id, full, reason, node]}
    assert sim.stats.studies_created == 0


async def test_max_studies_per_chart_session() -> None:
    async with Simulator(SimConfig(max_studies=2)) as sim, peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "5", 20))
        await peer.send(create("st_1", classic("RSI")), create("st_2", classic("ATR")))
        await peer.until("study_completed", 2)
        errors = await errors_of(peer, create("st_3", classic("VWAP")))
        await peer.send(create("st_2", classic("MAExp")))  # the same id replaces: no new slot
        replaced = await peer.until("study_completed")
        await peer.send(("remove_study", [CS, "st_1"]), create("st_3", classic("VWAP")))
        freed = await peer.until("study_completed")
        other = "cs_other"
        await load(peer, *series_calls("BINANCE:BTCUSDT", "5", 20, cs=other)[1:])
        await peer.send(("create_study", [other, "st_9", "st1", "sds_1", classic("RSI"), {}]))
        second = await peer.until("study_completed")
    assert errors == [
        [
            CS,
            "st_3",
            "s1_st1",
            "The maximum number of studies per chart has been reached for current subscription",
            "sim1-charts-free-1-study-1",
        ]
    ]
    assert replaced[-1]["p"][1] == "st_2" and freed[-1]["p"][1] == "st_3"
    assert second[-1]["p"][:2] == [other, "st_9"], "the limit is per chart session"
    assert sim.stats.studies_created == 5


async def test_malformed_study_params_are_invalid_parameters(sim: Simulator) -> None:
    async with peer_of(sim) as peer:
        await load(peer, *series_calls("BINANCE:BTCUSDT", "5", 20))
        await peer.send(("create_study", [CS, "st_1", "st1", "sds_1", classic("RSI"), [14]]))
        messages = await peer.until("critical_error")
    assert messages[-1]["p"][:2] == [CS, "invalid parameters"]
    assert messages[-1]["p"][2].startswith("method: create_study. args:")
