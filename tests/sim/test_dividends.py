"""Dividend back-adjustment: the market's schedule and factors, and the simulator serving them."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.sim.test_server import CS, Call, bars_of, load, only, peer_of, rows, series_calls
from tvframe.protocol import symbol_descriptor
from tvframe.sim import DEFAULT_START, SimClock, SimConfig, Simulator
from tvframe.sim.catalogue import CATALOGUE, SimSymbol
from tvframe.sim.market import Market, SimBars

F64 = npt.NDArray[np.float64]
AAPL = CATALOGUE["NASDAQ:AAPL"]
NOW = DEFAULT_START
YEAR = 365 * 86_400
PRICES = ("open", "high", "low", "close")


@pytest.fixture(scope="module")
def market() -> Market:
    return Market()


def expected_factors(market: Market, symbol: SimSymbol, times: F64, as_of: float) -> F64:
    """``prod(1 - amount / close_before_ex)`` over the ex-dates in ``(t, as_of]``, from public
    data only: the schedule and the unadjusted daily bar before each ex-date."""
    ex_times, amounts = market.dividends(symbol, float(times[0]), as_of + 1)
    keep = ex_times <= as_of
    closes = [market.bars_before(symbol, "1D", ex, 1, now=ex).close[-1] for ex in ex_times[keep]]
    factors = np.ones(len(times))
    for ex, amount, close in zip(ex_times[keep], amounts[keep], closes, strict=True):
        factors[times < ex] *= 1.0 - amount / close
    return factors


def assert_adjusted(adjusted: SimBars, plain: SimBars, factors: F64) -> None:
    assert np.array_equal(adjusted.time, plain.time)
    assert np.array_equal(adjusted.volume, plain.volume), "volume is never adjusted"
    for column in PRICES:
        expected = getattr(plain, column) * factors
        np.testing.assert_allclose(getattr(adjusted, column), expected, rtol=1e-12, atol=0)


def assert_same(one: SimBars, two: SimBars) -> None:
    for column in ("time", *PRICES, "volume"):
        assert np.array_equal(getattr(one, column), getattr(two, column)), column


def dividends_descriptor(symbol: str) -> str:
    return symbol_descriptor(symbol, adjustment="dividends")


def dividend_calls(symbol: str, resolution: str, count: Any) -> list[Call]:
    calls = series_calls(symbol, resolution, count)
    method, params = calls[2]
    assert method == "resolve_symbol"
    return [*calls[:2], (method, [*params[:2], dividends_descriptor(symbol)]), *calls[3:]]


# --- the schedule ----------------------------------------------------------------------


def test_stocks_pay_quarterly_small_amounts_at_a_trading_day_start(market: Market) -> None:
    for symbol in (s for s in CATALOGUE.values() if s.type == "stock" and s.exchange != "SIMX"):
        ex_times, amounts = market.dividends(symbol, NOW - 3 * YEAR, NOW)
        assert 11 <= len(ex_times) <= 13, symbol.full_name
        assert np.all(np.diff(ex_times) > 80 * 86_400) and np.all(np.diff(ex_times) < 100 * 86_400)
        for ex, amount in zip(ex_times, amounts, strict=True):
            assert market.bar_open(symbol, "1D", ex, extended=True) == ex, "a day's first open"
            close = market.bars_before(symbol, "1D", ex, 1, now=ex).close[-1]
            assert 0 < amount < 0.02 * close
            units = amount * symbol.pricescale
            assert abs(units - round(units)) < 1e-9, "paid in whole 1/pricescale units"


@pytest.mark.parametrize("name", ["BINANCE:BTCUSDT", "FX:EURUSD", "SP:SPX", "CME_MINI:ES1!"])
def test_non_stocks_never_pay(market: Market, name: str) -> None:
    ex_times, amounts = market.dividends(CATALOGUE[name], 0, 3e9)
    assert len(ex_times) == len(amounts) == 0


def test_the_schedule_is_deterministic_whatever_was_asked_before(market: Market) -> None:
    wide = market.dividends(AAPL, NOW - 3 * YEAR, NOW)
    fresh = Market()
    fresh.bars_before(AAPL, "5", NOW, 10, now=NOW)
    narrow = fresh.dividends(AAPL, NOW - YEAR, NOW)
    start = int(np.searchsorted(wide[0], NOW - YEAR))
    assert np.array_equal(narrow[0], wide[0][start:])
    assert np.array_equal(narrow[1], wide[1][start:])
    assert not np.array_equal(Market(seed=1).dividends(AAPL, NOW - YEAR, NOW)[0], narrow[0])


# --- the adjustment --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "resolution", "count", "extended"),
    [
        ("NASDAQ:AAPL", "1D", 900, False),
        ("NASDAQ:AAPL", "60", 2500, True),
        ("NASDAQ:AAPL", "W", 200, False),
        ("KRX:005930", "1D", 600, False),
        ("NSE:RELIANCE", "240", 800, False),
    ],
)
def test_dividends_adjust_by_the_backward_factor(
    market: Market, name: str, resolution: str, count: int, extended: bool
) -> None:
    symbol = CATALOGUE[name]
    plain = market.bars_before(symbol, resolution, NOW + 1, count, now=NOW, extended=extended)
    adjusted = market.bars_before(
        symbol, resolution, NOW + 1, count, now=NOW, extended=extended, adjustment="dividends"
    )
    factors = expected_factors(market, symbol, plain.time, NOW)
    assert factors.min() < 0.99, "the window must span several ex-dates"
    assert_adjusted(adjusted, plain, factors)
    last_ex = market.dividends(symbol, 0, NOW + 1)[0][-1]
    after = plain.time >= last_ex
    assert after.any() and not after.all()
    for column in PRICES:
        assert np.array_equal(getattr(adjusted, column)[after], getattr(plain, column)[after])


def test_bars_between_and_adjusted_at_follow_the_formula(market: Market) -> None:
    as_of = NOW - 200 * 86_400
    start = NOW - 2 * YEAR
    plain = market.bars_between(AAPL, "1D", start, NOW, now=NOW)
    adjusted = market.bars_between(
        AAPL, "1D", start, NOW, now=NOW, adjustment="dividends", adjusted_at=as_of
    )
    factors = expected_factors(market, AAPL, plain.time, as_of)
    assert_adjusted(adjusted, plain, factors)
    assert not np.array_equal(factors, expected_factors(market, AAPL, plain.time, NOW))


def test_a_factor_does_not_depend_on_the_page(market: Market) -> None:
    whole = market.bars_before(AAPL, "1D", NOW + 1, 600, now=NOW, adjustment="dividends")
    pages: list[SimBars] = []
    end = NOW + 1
    for _ in range(12):
        page = market.bars_before(AAPL, "1D", end, 50, now=NOW, adjustment="dividends")
        pages.insert(0, page)
        end = float(page.time[0])
    joined = SimBars(
        *(np.concatenate([getattr(p, c) for p in pages]) for c in ("time", *PRICES, "volume"))
    )
    assert_same(joined, whole)


@pytest.mark.parametrize("name", ["BINANCE:BTCUSDT", "SP:SPX"])
def test_dividends_leave_non_stocks_unchanged(market: Market, name: str) -> None:
    symbol = CATALOGUE[name]
    for resolution, count in (("1D", 800), ("60", 500)):
        plain = market.bars_before(symbol, resolution, NOW + 1, count, now=NOW)
        adjusted = market.bars_before(
            symbol, resolution, NOW + 1, count, now=NOW, adjustment="dividends"
        )
        assert_same(adjusted, plain)


def test_an_unknown_adjustment_is_refused(market: Market) -> None:
    with pytest.raises(ValueError, match="'dividend'"):
        market.bars_before(AAPL, "1D", NOW, 10, now=NOW, adjustment="dividend")
    with pytest.raises(ValueError, match="'none'"):
        market.bars_between(AAPL, "1D", 0, NOW, now=NOW, adjustment="none")


# --- the simulator ---------------------------------------------------------------------


async def test_paging_gives_the_values_of_one_big_request() -> None:
    config = SimConfig(bars_per_request=100, max_depth=1000)
    async with Simulator(config) as sim, peer_of(sim) as peer:
        first = await load(peer, *dividend_calls("NASDAQ:AAPL", "D", 100))
        points = bars_of(only(first, "timescale_update")[0])
        for _ in range(5):
            await peer.send(("request_more_data", [CS, "sds_1", 100]))
            page = await peer.until("series_completed")
            points = bars_of(only(page, "timescale_update")[0]) + points
    assert [p["i"] for p in points] == list(range(-500, 100))
    big = sim.market.bars_before(AAPL, "D", NOW + 1, 600, now=NOW, adjustment="dividends")
    assert [p["v"] for p in points] == rows(big)
    plain = sim.market.bars_before(AAPL, "D", NOW + 1, 600, now=NOW)
    assert_adjusted(big, plain, expected_factors(sim.market, AAPL, plain.time, NOW))
    async with Simulator(SimConfig(bars_per_request=600)) as one, peer_of(one) as peer:
        whole = await load(peer, *dividend_calls("NASDAQ:AAPL", "D", 600))
    assert [p["v"] for p in bars_of(only(whole, "timescale_update")[0])] == rows(big)


async def test_range_requests_are_adjusted_like_the_rest() -> None:
    async with Simulator() as sim, peer_of(sim) as peer:
        first = await load(peer, *dividend_calls("NASDAQ:AAPL", "D", 30))
        start = bars_of(only(first, "timescale_update")[0])[0]["v"][0]
        frm = int(start - YEAR)
        timeframe = f"r,{frm}:{int(NOW)}"
        await peer.send(("modify_series", [CS, "sds_1", "s1", "sds_sym_1", "D", timeframe]))
        older = bars_of(only(await peer.until("series_completed"), "timescale_update")[0])
    expected = sim.market.bars_between(AAPL, "D", frm, start, now=NOW, adjustment="dividends")
    plain = sim.market.bars_between(AAPL, "D", frm, start, now=NOW)
    assert [p["v"] for p in older] == rows(expected)
    assert [p["v"] for p in older] != rows(plain)


async def test_the_default_descriptor_and_non_stocks_are_unadjusted() -> None:
    async with Simulator() as sim, peer_of(sim) as peer:
        splits = await load(peer, *series_calls("NASDAQ:AAPL", "D", 300))
        btc = await load(
            peer,
            ("resolve_symbol", [CS, "sym_btc", dividends_descriptor("BINANCE:BTCUSDT")]),
            ("create_series", [CS, "sds_2", "s1", "sym_btc", "D", 300]),
        )
    aapl = sim.market.bars_before(AAPL, "D", NOW + 1, 300, now=NOW)
    assert [p["v"] for p in bars_of(only(splits, "timescale_update")[0])] == rows(aapl)
    plain_btc = sim.market.bars_before(CATALOGUE["BINANCE:BTCUSDT"], "D", NOW + 1, 300, now=NOW)
    sent_btc = bars_of(only(btc, "timescale_update")[0], "sds_2")
    assert [p["v"] for p in sent_btc] == rows(plain_btc)


async def test_a_nested_chart_type_descriptor_keeps_the_adjustment() -> None:
    nested = '={"symbol":' + dividends_descriptor("NASDAQ:AAPL")[1:] + ',"type":"BarSetHeikenAshi"}'
    async with Simulator() as sim, peer_of(sim) as peer:
        messages = await load(
            peer,
            ("chart_create_session", [CS, ""]),
            ("resolve_symbol", [CS, "sym", nested]),
            ("create_series", [CS, "sds_1", "s1", "sym", "D", 300]),
        )
    expected = sim.market.bars_before(AAPL, "D", NOW + 1, 300, now=NOW, adjustment="dividends")
    assert [p["v"] for p in bars_of(only(messages, "timescale_update")[0])] == rows(expected)


def last_ex_date(market: Market) -> float:
    ex_times = market.dividends(AAPL, NOW - YEAR, NOW)[0]
    return float(ex_times[-1])


async def test_live_bars_keep_the_factors_of_their_load() -> None:
    """A dividend going ex while the series is live does not re-adjust what was sent."""
    ex = last_ex_date(Market())
    day_before = Market().bars_before(AAPL, "D", ex, 1, now=ex).time[0]
    start = day_before + 5.5 * 3600  # 15:00 New York on the trading day before the ex-date
    async with Simulator(clock=SimClock(start)) as sim, peer_of(sim) as peer:
        loaded = await load(peer, *dividend_calls("NASDAQ:AAPL", "D", 200))
        now = await sim.advance(ex + 6.5 * 3600 - start)  # 10:30 on the ex-date
        updates = await peer.until("du", 2)
    sent = bars_of(only(loaded, "timescale_update")[0])
    pinned = sim.market.bars_before(
        AAPL, "D", now + 1, 201, now=now, adjustment="dividends", adjusted_at=start
    )
    at_load = sim.market.bars_before(AAPL, "D", start + 1, 200, now=start, adjustment="dividends")
    assert [p["v"] for p in sent] == rows(at_load)
    assert rows(at_load)[:-1] == rows(pinned)[:-2], "the final bars are the same"
    live = [(p["i"], p["v"]) for m in updates for p in bars_of(m)]
    assert live == [(199, rows(pinned)[-2]), (200, rows(pinned)[-1]), (200, rows(pinned)[-1])]
    plain = sim.market.bars_before(AAPL, "D", now + 1, 2, now=now)
    assert live[0][1] == rows(plain)[0], "the day before the ex-date is sent unadjusted"
    fresh = sim.market.bars_before(AAPL, "D", now + 1, 2, now=now, adjustment="dividends")
    assert live[0][1] != rows(fresh)[0], "a new load would adjust it"


async def test_live_updates_of_a_bar_opened_before_an_ex_date_are_adjusted() -> None:
    ex = last_ex_date(Market())
    start = ex + 86_400 + 6 * 3600  # the day after the ex-date, inside the month's bar
    async with Simulator(clock=SimClock(start)) as sim, peer_of(sim) as peer:
        await load(peer, *dividend_calls("NASDAQ:AAPL", "M", 12))
        now = await sim.advance(3600)
        update = (await peer.until("du"))[-1]
    forming = bars_of(update)[-1]["v"]
    month = sim.market.bars_before(AAPL, "M", now + 1, 1, now=now, adjustment="dividends")
    plain = sim.market.bars_before(AAPL, "M", now + 1, 1, now=now)
    assert month.time[0] < ex < now
    assert forming == rows(month)[0] and forming != rows(plain)[0]
