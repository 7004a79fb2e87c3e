"""The simulator's indicator maths against plain-loop transcriptions of the published definitions,
its table of studies and input rules, and pine-facade's translate answer."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest

from tvframe.sim import DEFAULT_START, SimConfig
from tvframe.sim.catalogue import CATALOGUE, SimSymbol
from tvframe.sim.market import Market, SimBars
from tvframe.sim.pine import answer, translate
from tvframe.sim.studies import (
    SOURCES,
    STUDIES,
    Ohlcv,
    StudyRefused,
    ema,
    resolve,
    rma,
    sma,
    stdev,
    trading_days,
    wma,
)

NAN = math.nan
Plots = list[list[float]]


# --- independent references: lists and loops, straight from TradingView's definitions --------


def is_na(v: float) -> bool:
    return v != v


def ref_sma(x: Sequence[float], n: int) -> list[float]:
    out = []
    for i in range(len(x)):
        window = x[i - n + 1 : i + 1] if i + 1 >= n else []
        ok = len(window) == n and not any(is_na(v) for v in window)
        out.append(sum(window) / n if ok else NAN)
    return out


def ref_recursive(x: Sequence[float], n: int, alpha: float) -> list[float]:
    """Pine: sum := na(sum[1]) ? ta.sma(src, length) : alpha * src + (1 - alpha) * nz(sum[1])."""
    seed = ref_sma(x, n)
    out: list[float] = []
    for i, v in enumerate(x):
        previous = out[i - 1] if i else NAN
        out.append(seed[i] if is_na(previous) else alpha * v + (1 - alpha) * previous)
    return out


def ref_ema(x: Sequence[float], n: int) -> list[float]:
    return ref_recursive(x, n, 2 / (n + 1))


def ref_rma(x: Sequence[float], n: int) -> list[float]:
    return ref_recursive(x, n, 1 / n)


def ref_wma(x: Sequence[float], n: int) -> list[float]:
    out = []
    for i in range(len(x)):
        if i + 1 < n:
            out.append(NAN)
            continue
        window = x[i - n + 1 : i + 1]  # oldest first: weight 1 ... newest: weight n
        out.append(sum((k + 1) * v for k, v in enumerate(window)) / (n * (n + 1) / 2))
    return out


def ref_stdev(x: Sequence[float], n: int) -> list[float]:
    out = []
    for i in range(len(x)):
        if i + 1 < n:
            out.append(NAN)
            continue
        window = x[i - n + 1 : i + 1]
        mean = sum(window) / n
        out.append(math.sqrt(sum((v - mean) ** 2 for v in window) / n))
    return out


def ref_source(b: SimBars, name: str) -> list[float]:
    o, h, lo, c = (getattr(b, k).tolist() for k in ("open", "high", "low", "close"))
    rows = list(zip(o, h, lo, c, strict=True))
    formulas: dict[str, Callable[[tuple[float, ...]], float]] = {
        "open": lambda r: r[0],
        "high": lambda r: r[1],
        "low": lambda r: r[2],
        "close": lambda r: r[3],
        "hl2": lambda r: (r[1] + r[2]) / 2,
        "hlc3": lambda r: (r[1] + r[2] + r[3]) / 3,
        "ohlc4": lambda r: (r[0] + r[1] + r[2] + r[3]) / 4,
    }
    return [formulas[name](r) for r in rows]


def ref_rsi(x: Sequence[float], n: int) -> list[float]:
    up = [NAN] + [max(x[i] - x[i - 1], 0.0) for i in range(1, len(x))]
    down = [NAN] + [max(x[i - 1] - x[i], 0.0) for i in range(1, len(x))]
    out = []
    for u, d in zip(ref_rma(up, n), ref_rma(down, n), strict=True):
        if is_na(u) or is_na(d):
            out.append(NAN)
        elif d == 0:
            out.append(100.0)
        elif u == 0:
            out.append(0.0)
        else:
            out.append(100 - 100 / (1 + u / d))
    return out


def ref_macd(x: Sequence[float], fast: int, slow: int, signal: int) -> Plots:
    line = [f - s for f, s in zip(ref_ema(x, fast), ref_ema(x, slow), strict=True)]
    smoothed = ref_ema(line, signal)
    return [[m - s for m, s in zip(line, smoothed, strict=True)], line, smoothed]


def ref_bb(x: Sequence[float], n: int, mult: float) -> Plots:
    basis, dev = ref_sma(x, n), ref_stdev(x, n)
    return [
        basis,
        [b + mult * d for b, d in zip(basis, dev, strict=True)],
        [b - mult * d for b, d in zip(basis, dev, strict=True)],
    ]


def ref_stochastic(b: SimBars, period_k: int, smooth_k: int, period_d: int) -> Plots:
    high, low, close = b.high.tolist(), b.low.tolist(), b.close.tolist()
    raw = []
    for i in range(len(close)):
        if i + 1 < period_k:
            raw.append(NAN)
            continue
        hh, ll = max(high[i - period_k + 1 : i + 1]), min(low[i - period_k + 1 : i + 1])
        raw.append(NAN if hh == ll else 100 * (close[i] - ll) / (hh - ll))
    k = ref_sma(raw, smooth_k)
    return [k, ref_sma(k, period_d)]


def ref_atr(b: SimBars, n: int) -> list[float]:
    high, low, close = b.high.tolist(), b.low.tolist(), b.close.tolist()
    tr = [high[0] - low[0]] + [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, len(close))
    ]
    return ref_rma(tr, n)


def ref_trading_date(t: float, symbol: SimSymbol) -> tuple[int, int, int]:
    if symbol.session == "24x7":
        utc = datetime.fromtimestamp(t, ZoneInfo("UTC"))
        return utc.year, utc.month, utc.day
    local = datetime.fromtimestamp(t, ZoneInfo(symbol.timezone))
    start, end = int(symbol.session[:4]), int(symbol.session[5:])
    if end <= start and local.hour * 100 + local.minute >= start:
        local = datetime.fromordinal(local.toordinal() + 1)
    return local.year, local.month, local.day


def ref_vwap(b: SimBars, symbol: SimSymbol) -> list[float]:
    out, day = [], None
    total = volume = 0.0
    for t, price, v in zip(b.time.tolist(), ref_source(b, "hlc3"), b.volume.tolist(), strict=True):
        date = ref_trading_date(t, symbol)
        if date != day:
            day, total, volume = date, 0.0, 0.0
        total += price * v
        volume += v
        out.append(NAN if volume == 0 else total / volume)
    return out


def ref_volume(b: SimBars, n: int) -> Plots:
    volume = b.volume.tolist()
    return [volume, ref_sma(volume, n)]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def market() -> Market:
    return Market()


def bars_of(market: Market, name: str, resolution: str, count: int) -> SimBars:
    return market.bars_before(
        CATALOGUE[name], resolution, DEFAULT_START + 1, count, now=DEFAULT_START
    )


def ohlcv(b: SimBars, symbol: SimSymbol) -> Ohlcv:
    days = trading_days(b.time, symbol.timezone, symbol.session)
    return Ohlcv(b.open, b.high, b.low, b.close, b.volume, days)


def assert_close(got: Sequence[float], want: Sequence[float]) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert is_na(g) == is_na(w), f"na differs at {k}: {g} vs {w}"
        if not is_na(w):
            assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9), f"at {k}: {g} vs {w}"


def assert_plots(got: Sequence[np.ndarray], want: Plots) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert_close(g.tolist(), w)


# --- primitives -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 9, 50])
@pytest.mark.parametrize(
    ("ours", "reference"),
    [(sma, ref_sma), (ema, ref_ema), (rma, ref_rma), (wma, ref_wma), (stdev, ref_stdev)],
    ids=["sma", "ema", "rma", "wma", "stdev"],
)
def test_primitives_match_the_definitions(
    market: Market,
    ours: Callable[[np.ndarray, int], np.ndarray],
    reference: Callable[[Sequence[float], int], list[float]],
    n: int,
) -> None:
    close = bars_of(market, "BINANCE:BTCUSDT", "5", 400).close
    got = ours(close, n).tolist()
    assert_close(got, reference(close.tolist(), n))
    assert all(is_na(v) for v in got[: n - 1]) and not any(is_na(v) for v in got[n - 1 :])


@pytest.mark.parametrize("average", [sma, ema, rma, wma, stdev])
def test_an_na_inside_a_window_gives_na_until_it_leaves(
    average: Callable[[np.ndarray, int], np.ndarray],
) -> None:
    x = np.array([1.0, 2.0, 3.0, NAN, 5.0, 6.0, 7.0, 8.0])
    got = average(x, 3).tolist()
    assert [is_na(v) for v in got] == [True, True, False, True, True, True, False, False]
    if average in (sma, ema, rma):  # the recursive ones restart from the sma after an na
        assert_close(got, [*ref_sma(x.tolist(), 3)[:7], got[7]])
        assert got[6] == 6.0


def test_lengths_longer_than_the_data_give_all_na_without_allocating() -> None:
    x = np.arange(5, dtype=np.float64)
    for average in (sma, ema, rma, wma, stdev):
        assert all(is_na(v) for v in average(x, 10**12).tolist())
    with pytest.raises(ValueError, match="length must be >= 1"):
        sma(x, 0)


def test_ema_over_a_hundred_thousand_points() -> None:
    x = np.sin(np.arange(100_000, dtype=np.float64))
    assert_close(ema(x, 20).tolist()[-5:], ref_ema(x.tolist(), 20)[-5:])


# --- the ten studies ------------------------------------------------------------------------

CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("RSI", "BINANCE:BTCUSDT", "5", {}),
    ("RSI", "NASDAQ:AAPL", "60", {"length": 5, "source": "hl2"}),
    ("MASimple", "NASDAQ:AAPL", "5", {"length": 20, "source": "ohlc4"}),
    ("MAExp", "BINANCE:ETHUSDT", "15", {}),
    ("MAWeighted", "FX:EURUSD", "60", {"length": 13, "source": "hlc3"}),
    ("MACD", "BINANCE:BTCUSDT", "1D", {}),
    ("MACD", "NASDAQ:MSFT", "5", {"fastLength": 5, "slowLength": 8, "signalLength": 3}),
    ("BB", "NASDAQ:AAPL", "5", {}),
    ("BB", "BINANCE:BTCUSDT", "60", {"length": 10, "mult": 1.5, "source": "low"}),
    ("Stochastic", "BINANCE:BTCUSDT", "5", {}),
    ("Stochastic", "NSE:RELIANCE", "15", {"periodK": 9, "smoothK": 3, "periodD": 5}),
    ("ATR", "CME_MINI:ES1!", "60", {}),
    ("ATR", "BINANCE:BTCUSDT", "1", {"length": 3}),
    ("VWAP", "NASDAQ:AAPL", "5", {}),
    ("VWAP", "CME_MINI:ES1!", "60", {}),
    ("VWAP", "BINANCE:BTCUSDT", "60", {}),
    ("VWAP", "NASDAQ:AAPL", "1D", {}),
    ("Volume", "NASDAQ:AAPL", "5", {}),
    ("Volume", "BINANCE:BTCUSDT", "60", {"length": 5, "col_prev_close": "true"}),
]


def reference(name: str, b: SimBars, symbol: SimSymbol, p: dict[str, Any]) -> Plots:
    if name == "RSI":
        return [ref_rsi(ref_source(b, p["source"]), p["length"])]
    averages = {"MASimple": ref_sma, "MAExp": ref_ema, "MAWeighted": ref_wma}
    if name in averages:
        return [averages[name](ref_source(b, p["source"]), p["length"])]
    if name == "MACD":
        x = ref_source(b, p["source"])
        return ref_macd(x, p["fastLength"], p["slowLength"], p["signalLength"])
    if name == "BB":
        return ref_bb(ref_source(b, p["source"]), p["length"], p["mult"])
    if name == "Stochastic":
        return ref_stochastic(b, p["periodK"], p["smoothK"], p["periodD"])
    if name == "ATR":
        return [ref_atr(b, p["length"])]
    if name == "VWAP":
        return [ref_vwap(b, symbol)]
    return ref_volume(b, p["length"])


@pytest.mark.parametrize(("name", "symbol", "resolution", "inputs"), CASES)
def test_studies_match_the_definitions(
    market: Market, name: str, symbol: str, resolution: str, inputs: dict[str, Any]
) -> None:
    b = bars_of(market, symbol, resolution, 500)
    study, params = resolve(f"{name}@tv-basicstudies-1", inputs)
    plots = study.run(ohlcv(b, CATALOGUE[symbol]), params)
    assert len(plots) == len(study.plots)
    assert_plots(plots, reference(name, b, CATALOGUE[symbol], params))


def test_defaults_are_the_contracts() -> None:
    defaults = {name: resolve(f"{name}@tv-basicstudies-1", {})[1] for name in STUDIES}
    assert defaults == {
        "RSI": {"length": 14, "source": "close"},
        "MASimple": {"length": 9, "source": "close"},
        "MAExp": {"length": 9, "source": "close"},
        "MAWeighted": {"length": 9, "source": "close"},
        "MACD": {"fastLength": 12, "slowLength": 26, "signalLength": 9, "source": "close"},
        "BB": {"length": 20, "mult": 2.0, "source": "close"},
        "Stochastic": {"periodK": 14, "smoothK": 1, "periodD": 3},
        "ATR": {"length": 14},
        "VWAP": {},
        "Volume": {"length": 20, "col_prev_close": False},
    }
    assert {name: s.plots for name, s in STUDIES.items()} == {
        "RSI": ("RSI",),
        "MASimple": ("MA",),
        "MAExp": ("EMA",),
        "MAWeighted": ("WMA",),
        "MACD": ("Histogram", "MACD", "Signal"),
        "BB": ("Basis", "Upper", "Lower"),
        "Stochastic": ("%K", "%D"),
        "ATR": ("ATR",),
        "VWAP": ("VWAP",),
        "Volume": ("Volume", "Volume MA"),
    }


def test_warm_up_positions_are_na(market: Market) -> None:
    b = ohlcv(bars_of(market, "BINANCE:BTCUSDT", "5", 200), CATALOGUE["BINANCE:BTCUSDT"])
    first_values = {
        "RSI": [14],
        "MASimple": [8],
        "MACD": [33, 25, 33],  # the signal needs 9 MACD values, the MACD 26 bars
        "BB": [19, 19, 19],
        "Stochastic": [13, 15],
        "ATR": [13],
        "Volume": [0, 19],
    }
    for name, firsts in first_values.items():
        study, params = resolve(f"{name}@tv-basicstudies-1", {})
        plots = study.run(b, params)
        assert [int(np.argmax(~np.isnan(p))) for p in plots] == firsts, name


def test_rsi_edges_all_gains_and_all_losses() -> None:
    study, params = resolve("RSI@tv-basicstudies-1", {"length": 2})
    up = np.arange(1.0, 6.0)
    flat = np.zeros(5, dtype=np.int64)
    rising = Ohlcv(up, up, up, up, up, flat)
    falling = Ohlcv(up[::-1], up[::-1], up[::-1], up[::-1], up, flat)
    assert study.run(rising, params)[0].tolist()[2:] == [100.0] * 3
    assert study.run(falling, params)[0].tolist()[2:] == [0.0] * 3


def test_stochastic_is_na_where_the_range_is_zero() -> None:
    flat = np.array([5.0, 5.0, 5.0, 6.0, 4.0])
    b = Ohlcv(flat, flat, flat, flat, flat, np.zeros(5, dtype=np.int64))
    study, params = resolve("Stochastic@tv-basicstudies-1", {"periodK": 2, "periodD": 1})
    k, _ = study.run(b, params)
    assert [is_na(v) for v in k.tolist()] == [True, True, True, False, False]


def test_vwap_and_volume_are_na_without_volume(market: Market) -> None:
    b = bars_of(market, "SP:SPX", "5", 100)
    assert not b.volume.any()
    spx = CATALOGUE["SP:SPX"]
    days = trading_days(b.time, spx.timezone, spx.session)
    bars = Ohlcv(b.open, b.high, b.low, b.close, np.full(100, NAN), days)
    for name in ("VWAP", "Volume"):
        study, params = resolve(f"{name}@tv-basicstudies-1", {})
        assert all(np.isnan(p).all() for p in study.run(bars, params))


def test_trading_days_follow_the_exchange_date(market: Market) -> None:
    for name in ("NASDAQ:AAPL", "CME_MINI:ES1!", "BINANCE:BTCUSDT", "NSE:RELIANCE"):
        symbol = CATALOGUE[name]
        b = bars_of(market, name, "60", 300)
        days = trading_days(b.time, symbol.timezone, symbol.session).tolist()
        dates = [ref_trading_date(t, symbol) for t in b.time.tolist()]
        starts = [k for k in range(1, len(dates)) if dates[k] != dates[k - 1]]
        assert starts == [k for k in range(1, len(days)) if days[k] != days[k - 1]], name
        assert starts, name


# --- inputs ---------------------------------------------------------------------------------


def error_of(study_type: str, inputs: dict[str, Any]) -> str | dict[str, Any]:
    with pytest.raises(StudyRefused) as info:
        resolve(study_type, inputs)
    return info.value.reason


@pytest.mark.parametrize(
    ("inputs", "label", "value", "rule"),
    [
        ({"length": 0}, "length", 0, "an integer >= 1"),
        ({"length": 2.5}, "length", 2.5, "an integer >= 1"),
        ({"length": "14"}, "length", "14", "an integer >= 1"),
        ({"length": True}, "length", True, "an integer >= 1"),
        ({"source": "volume"}, "source", "volume", "one of " + ", ".join(SOURCES)),
    ],
)
def test_invalid_classic_inputs(inputs: dict[str, Any], label: str, value: Any, rule: str) -> None:
    assert error_of("RSI@tv-basicstudies-1", inputs) == {
        "error": f"Invalid value of the '{label}' argument ({{value}}). It must be {rule}.",
        "ctx": {"value": value},
        "stack_trace": [{"n": "#main", "p": 1}],
    }


def test_more_input_rules() -> None:
    assert resolve("RSI@tv-basicstudies-7", {"length": 14.0})[1]["length"] == 14
    assert resolve("BB@tv-basicstudies-1", {"mult": 1})[1]["mult"] == 1.0
    for mult in (0, -1.0, "2", float("inf")):
        reason = error_of("BB@tv-basicstudies-1", {"mult": mult})
        assert isinstance(reason, dict) and reason["error"].endswith("It must be a number > 0.")
    volume = "Volume@tv-basicstudies-246"
    assert resolve(volume, {"col_prev_close": "false"})[1]["col_prev_close"] is False
    assert resolve(volume, {"col_prev_close": True})[1]["col_prev_close"] is True
    reason = error_of(volume, {"col_prev_close": "no"})
    assert isinstance(reason, dict) and reason["error"].endswith("It must be true or false.")
    reason = error_of("RSI@tv-basicstudies-1", {"lenght": 14})
    assert isinstance(reason, dict) and reason["error"] == "Unknown input 'lenght'"
    assert reason["ctx"] == {"value": 14}


@pytest.mark.parametrize(
    "study_type",
    ["Nope@tv-basicstudies-1", "RSI@tv-prostudies-1", "StrategyScript@tv-scripting-101!", "RSI"],
)
def test_unknown_types(study_type: str) -> None:
    assert error_of(study_type, {}) == f"Internal server study error: unknown study {study_type}"


def pine_inputs(pine_id: str, **values: Any) -> dict[str, Any]:
    result = translate(pine_id)
    assert result is not None
    inputs: dict[str, Any] = {
        "text": result["ilTemplate"],
        "pineId": pine_id,
        "pineVersion": result["metaInfo"]["pine"]["version"],
        "pineFeatures": {"v": '{"indicator":1,"plot":1,"ta":1}', "f": True, "t": "text"},
        "__profile": {"v": False, "f": True, "t": "bool"},
    }
    for spec in result["metaInfo"]["inputs"]:
        value = values.get(spec["id"], spec["defval"])
        inputs[spec["id"]] = {"v": value, "f": True, "t": spec["type"]}
    return inputs


def test_pine_inputs_map_to_the_classic_ones() -> None:
    study, params = resolve("Script@tv-scripting-101!", pine_inputs("STD;MACD", in_0=5, in_3="hl2"))
    assert study.name == "MACD"
    assert params == {"fastLength": 5, "slowLength": 26, "signalLength": 9, "source": "hl2"}
    bare = {**pine_inputs("STD;RSI"), "in_0": 3}  # a bare value works like {"v": 3}
    assert resolve("Script@tv-scripting-101!", bare)[1]["length"] == 3


def test_pine_errors() -> None:
    script = "Script@tv-scripting-101!"
    reason = error_of(script, pine_inputs("STD;RSI", in_0=0))
    assert isinstance(reason, dict)
    assert reason["error"] == (
        "Invalid value of the 'Length' argument ({value}). It must be an integer >= 1."
    )
    assert reason["ctx"] == {"value": 0}
    extra = {**pine_inputs("STD;RSI"), "in_2": {"v": 1, "f": True, "t": "integer"}}
    assert error_of(script, extra) == {
        "error": "Unknown input 'in_2'",
        "ctx": {"value": 1},
        "stack_trace": [{"n": "#main", "p": 1}],
    }
    bad_text = {**pine_inputs("STD;RSI"), "text": "plain pine source"}
    assert error_of(script, bad_text) == "Internal server study error: invalid script text"
    unknown = {**pine_inputs("STD;RSI"), "pineId": "STD;Supertrend"}
    assert error_of(script, unknown) == "Internal server study error: unknown study STD;Supertrend"


# --- pine-facade translate ------------------------------------------------------------------

TITLES = {
    "STD;RSI": ["Length", "Source"],
    "STD;SMA": ["Length", "Source"],
    "STD;EMA": ["Length", "Source"],
    "STD;WMA": ["Length", "Source"],
    "STD;MACD": ["Fast Length", "Slow Length", "Signal Length", "Source"],
    "STD;Bollinger_Bands": ["Length", "Mult", "Source"],
    "STD;Stochastic": ["%K Length", "%K Smoothing", "%D Smoothing"],
    "STD;Average_True_Range": ["Length"],
    "STD;VWAP": [],
    "STD;Volume": ["MA Length", "Color based on previous close"],
}


@pytest.mark.parametrize("pine_id", list(TITLES))
def test_translate_answers_every_script(pine_id: str) -> None:
    found = answer(f"/pine-facade/translate/{pine_id.replace(';', '%3B')}/last")
    assert found is not None and found.status == 200
    body = orjson.loads(found.text)
    assert body["success"] is True and set(body["result"]) == {"metaInfo", "ilTemplate"}
    meta = body["result"]["metaInfo"]
    assert body["result"]["ilTemplate"].startswith("bmI9Ks46_")
    assert [i["name"] for i in meta["inputs"]] == TITLES[pine_id]
    assert [i["id"] for i in meta["inputs"]] == [f"in_{k}" for k in range(len(TITLES[pine_id]))]
    assert all(set(i) == {"id", "name", "defval", "type"} for i in meta["inputs"])
    study = next(s for s in STUDIES.values() if s.pine_id == pine_id)
    assert [p["id"] for p in meta["plots"]] == [f"plot_{k}" for k in range(len(study.plots))]
    assert [meta["styles"][p["id"]]["title"] for p in meta["plots"]] == list(study.plots)
    assert meta["scriptIdPart"] == pine_id and meta["pine"]["version"]
    assert meta["description"] and meta["shortDescription"]


def test_translate_unknown_script_is_a_404() -> None:
    for target in (
        "/pine-facade/translate/STD%3BSupertrend/last",
        "/pine-facade/translate/STD%3BRSI",
        "/pine-facade/translate/STD%3BRSI/last/extra",
    ):
        found = answer(target)
        assert found is not None and found.status == 404, target
        assert orjson.loads(found.text) == {"success": False, "reason": "script not found"}
    assert answer("/pine-facade/other/STD%3BRSI/last") is None
    assert answer("/symbol_search/v3/?text=aapl") is None


def test_config_validates_the_study_fields() -> None:
    assert (SimConfig().study_extra_bars, SimConfig().max_studies) == (100, 16)
    with pytest.raises(ValueError, match="must be at least 0"):
        SimConfig(study_extra_bars=-1)
    with pytest.raises(ValueError, match="must be at least 0"):
        SimConfig(max_studies=-1)
