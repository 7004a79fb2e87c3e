"""The simulator's market: determinism, exact cross-resolution aggregation, sessions, forming bars.

Expected values are computed here independently (pandas for local calendars, numpy roll-ups),
never through the market's own helpers.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from tvframe.sim.catalogue import CATALOGUE, SimSymbol, find_symbol
from tvframe.sim.clock import DEFAULT_START, SimClock
from tvframe.sim.market import HISTORY_START, Market, Resolution, SimBars, parse_resolution

AAPL = CATALOGUE["NASDAQ:AAPL"]
BTC = CATALOGUE["BINANCE:BTCUSDT"]
EURUSD = CATALOGUE["FX:EURUSD"]
SPX = CATALOGUE["SP:SPX"]
ES = CATALOGUE["CME_MINI:ES1!"]
NOW = DEFAULT_START
MINUTE = 60
DAY = 86_400
COLUMNS = ("time", "open", "high", "low", "close", "volume")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc).timestamp()


def local(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0,
          second: int = 0) -> float:  # fmt: skip
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)).timestamp()


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(seed=7)


def columns(bars: SimBars) -> dict[str, npt.NDArray[np.float64]]:
    return {name: getattr(bars, name) for name in COLUMNS}


def assert_same(actual: SimBars, expected: dict[str, npt.NDArray[np.float64]]) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(actual, name), expected[name], err_msg=name)


def rollup(bars: SimBars, keys: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[np.float64]]:
    """Aggregate consecutive runs of equal keys: first open, max high, min low, last close."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    last = np.r_[starts[1:], len(keys)] - 1
    return {
        "time": bars.time[starts],
        "open": bars.open[starts],
        "high": np.maximum.reduceat(bars.high, starts),
        "low": np.minimum.reduceat(bars.low, starts),
        "close": bars.close[last],
        "volume": np.add.reduceat(bars.volume, starts),
    }


def local_times(bars: SimBars, tz: str) -> pd.DatetimeIndex:
    return pd.to_datetime(bars.time, unit="s", utc=True).tz_convert(tz)


def period_keys(
    bars: SimBars, tz: str, resolution: str, session_open: int
) -> npt.NDArray[np.int64]:
    """The bar each 1-minute bar belongs to, from the exchange-local calendar."""
    when = local_times(bars, tz)
    date = when.tz_localize(None).to_numpy().astype("datetime64[D]").astype(np.int64)
    if resolution == "D":
        return date
    if resolution == "W":
        return np.asarray((date + 3) // 7, dtype=np.int64)  # weeks from Monday
    if resolution == "M":
        return np.asarray(when.year * 12 + when.month, dtype=np.int64)
    minute_of_day = np.asarray(when.hour * 60 + when.minute, dtype=np.int64)
    return date * 10_000 + (minute_of_day - session_open) // int(resolution)


# --------------------------------------------------------------------------- resolutions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", ("T", 1)),
        ("45", ("T", 45)),
        ("1440", ("T", 1440)),
        ("1H", ("T", 60)),
        ("4H", ("T", 240)),
        ("15S", ("S", 15)),
        ("D", ("D", 1)),
        ("1D", ("D", 1)),
        ("3D", ("D", 3)),
        ("W", ("W", 1)),
        ("2W", ("W", 2)),
        ("M", ("M", 1)),
        ("12M", ("M", 12)),
    ],
)
def test_parse_resolution_accepts_protocol_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_resolution(text) == Resolution(*expected)


@pytest.mark.parametrize(
    "text", ["XX", "1h", "15m", "1d", "0", "", "01", "1441", "25H", "61S", "S", "H", " 1", "1.5"]
)
def test_parse_resolution_rejects_and_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace(".", r"\.")):
        parse_resolution(text)


def test_bad_resolution_reaches_the_caller(market: Market) -> None:
    with pytest.raises(ValueError, match="'1h'"):
        market.bars_before(BTC, "1h", NOW, 10, now=NOW)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_bars_in_any_call_order() -> None:
    first, second = Market(seed=3), Market(seed=3)
    a_minutes = first.bars_before(AAPL, "1", NOW, 500, now=NOW)
    a_daily = first.bars_before(AAPL, "D", NOW, 300, now=NOW)
    b_daily = second.bars_before(AAPL, "D", NOW, 300, now=NOW)
    b_weekly = second.bars_before(AAPL, "W", NOW, 50, now=NOW)  # warms other caches first
    b_minutes = second.bars_before(AAPL, "1", NOW, 500, now=NOW)
    assert_same(b_minutes, columns(a_minutes))
    assert_same(b_daily, columns(a_daily))
    assert len(b_weekly) == 50


def test_a_bar_does_not_depend_on_the_window_that_fetched_it(market: Market) -> None:
    wide = market.bars_between(BTC, "1", utc(2026, 5, 1), utc(2026, 5, 20), now=NOW)
    narrow = market.bars_between(BTC, "1", utc(2026, 5, 9, 13), utc(2026, 5, 9, 14), now=NOW)
    at = int(np.searchsorted(wide.time, narrow.time[0]))
    assert_same(narrow, {k: v[at : at + 60] for k, v in columns(wide).items()})


def test_seed_and_symbol_change_the_path() -> None:
    base = Market(seed=1).bars_before(BTC, "D", NOW, 30, now=NOW)
    other_seed = Market(seed=2).bars_before(BTC, "D", NOW, 30, now=NOW)
    other_symbol = Market(seed=1).bars_before(CATALOGUE["COINBASE:BTCUSD"], "D", NOW, 30, now=NOW)
    assert not np.array_equal(base.close, other_seed.close)
    assert not np.array_equal(base.close, other_symbol.close)


# --------------------------------------------------------------------------- aggregation


AGGREGATION_CASES = [
    (BTC, False, "Etc/UTC", 0),
    (AAPL, False, "America/New_York", 9 * 60 + 30),
    (AAPL, True, "America/New_York", 4 * 60),
]


@pytest.mark.parametrize(("symbol", "extended", "tz", "session_open"), AGGREGATION_CASES)
@pytest.mark.parametrize("resolution", ["5", "15", "60", "240", "D", "W", "M"])
def test_every_resolution_is_an_exact_rollup_of_minutes(
    market: Market, symbol: SimSymbol, extended: bool, tz: str, session_open: int, resolution: str
) -> None:
    # March 2026 spans the US DST change (8 March); its four whole weeks run 2 to 29 March.
    weekly = resolution == "W"
    start = local(tz, 2026, 3, 2) if weekly else local(tz, 2026, 3, 1)
    end = local(tz, 2026, 3, 30) if weekly else local(tz, 2026, 4, 1)
    minutes = market.bars_between(symbol, "1", start, end, now=NOW, extended=extended)
    bars = market.bars_between(symbol, resolution, start, end, now=NOW, extended=extended)
    assert len(bars) > 1 or resolution == "M"
    assert_same(bars, rollup(minutes, period_keys(minutes, tz, resolution, session_open)))


def test_seconds_roll_up_to_their_minute(market: Market) -> None:
    start = utc(2026, 6, 3, 12)
    seconds = market.bars_between(BTC, "1S", start, start + 600, now=NOW)
    fifteen = market.bars_between(BTC, "15S", start, start + 600, now=NOW)
    minutes = market.bars_between(BTC, "1", start, start + 600, now=NOW)
    assert len(seconds) == 600
    keys = (seconds.time // 60).astype(np.int64)
    assert_same(minutes, rollup(seconds, keys))
    assert_same(fifteen, rollup(seconds, (seconds.time // 15).astype(np.int64)))


def test_forty_five_second_bars_straddle_minutes_and_restart_each_day(market: Market) -> None:
    midnight = utc(2026, 6, 4)
    bars = market.bars_between(BTC, "45S", midnight - 90, midnight + 90, now=NOW)
    # 1440 * 60 = 1920 * 45, so the day ends on a bar boundary and the next starts at 00:00.
    np.testing.assert_array_equal(bars.time - midnight, [-90, -45, 0, 45])
    seconds = market.bars_between(BTC, "1S", midnight - 90, midnight + 90, now=NOW)
    assert_same(bars, rollup(seconds, ((seconds.time - midnight) // 45).astype(np.int64)))


def test_ten_years_of_daily_bars_match_their_minutes_on_sampled_weeks(market: Market) -> None:
    daily = market.bars_before(EURUSD, "D", NOW, 2600, now=NOW)
    assert len(daily) == 2600
    for week_start in daily.time[[0, 1300, 2590]]:
        minutes = market.bars_between(EURUSD, "1", week_start, week_start + 5 * DAY, now=NOW)
        keys = (minutes.time // DAY).astype(np.int64)
        at = int(np.searchsorted(daily.time, week_start))
        expected = rollup(minutes, keys)
        assert_same(SimBars(*(v[at : at + len(expected["time"])] for v in columns(daily).values())),
                    expected)  # fmt: skip


# --------------------------------------------------------------------------- sessions


@pytest.mark.parametrize(
    ("day", "utc_open"),
    [
        ((2026, 3, 6), (2026, 3, 6, 14, 30)),  # Friday, EST
        ((2026, 3, 9), (2026, 3, 9, 13, 30)),  # Monday after the change, EDT
        ((2026, 10, 30), (2026, 10, 30, 13, 30)),
        ((2026, 11, 2), (2026, 11, 2, 14, 30)),
    ],
)
def test_us_daily_bars_are_stamped_at_the_dst_aware_open(
    market: Market, day: tuple[int, int, int], utc_open: tuple[int, ...]
) -> None:
    bars = market.bars_between(AAPL, "D", utc(*day), utc(*day) + DAY, now=NOW)
    assert list(bars.time) == [utc(*utc_open)]


def test_us_hourly_bars_align_to_the_open_and_the_last_is_short(market: Market) -> None:
    day_start = utc(2026, 3, 10)
    hours = market.bars_between(AAPL, "60", day_start, day_start + DAY, now=NOW)
    local_hm = [t.strftime("%H:%M") for t in local_times(hours, "America/New_York")]
    assert local_hm == ["09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30"]
    last_half_hour = market.bars_between(AAPL, "1", hours.time[-1], hours.time[-1] + 3600, now=NOW)
    assert len(last_half_hour) == 30
    assert_same(SimBars(*(v[-1:] for v in columns(hours).values())),
                rollup(last_half_hour, np.zeros(30, dtype=np.int64)))  # fmt: skip
    tomorrow = market.next_bar_open(AAPL, "60", hours.time[-1])
    assert tomorrow == local("America/New_York", 2026, 3, 11, 9, 30)


def test_extended_hours_run_from_four_to_twenty(market: Market) -> None:
    day_start = utc(2026, 3, 10)
    hours = market.bars_between(AAPL, "60", day_start, day_start + DAY, now=NOW, extended=True)
    local_hours = [t.hour for t in local_times(hours, "America/New_York")]
    assert local_hours == list(range(4, 20))
    regular = market.bars_between(AAPL, "D", day_start, day_start + DAY, now=NOW)
    extended = market.bars_between(AAPL, "D", day_start, day_start + DAY, now=NOW, extended=True)
    assert extended.time[0] == local("America/New_York", 2026, 3, 10, 4)
    assert extended.high[0] >= regular.high[0] and extended.low[0] <= regular.low[0]
    assert extended.volume[0] > regular.volume[0]


def test_weekly_and_monthly_bars_open_at_their_first_session(market: Market) -> None:
    weeks = market.bars_between(AAPL, "W", utc(2026, 3, 1), utc(2026, 3, 29), now=NOW)
    mondays = [local("America/New_York", 2026, 3, d, 9, 30) for d in (2, 9, 16, 23)]
    assert list(weeks.time) == mondays
    months = market.bars_between(AAPL, "M", utc(2026, 8, 1), utc(2026, 12, 1), now=NOW)
    firsts = [(8, 3), (9, 1), (10, 1), (11, 2)]  # 1 August and 1 November are weekend days
    assert list(months.time) == [local("America/New_York", 2026, m, d, 9, 30) for m, d in firsts]
    assert market.bar_open(AAPL, "W", local("America/New_York", 2026, 3, 11, 12)) == mondays[1]


def test_crypto_trades_every_day_from_midnight_utc(market: Market) -> None:
    days = market.bars_between(BTC, "D", utc(2026, 3, 2), utc(2026, 3, 16), now=NOW)
    np.testing.assert_array_equal(days.time, utc(2026, 3, 2) + DAY * np.arange(14))
    saturday = market.bars_between(BTC, "60", utc(2026, 3, 7), utc(2026, 3, 8), now=NOW)
    assert len(saturday) == 24


def test_forex_has_no_weekend_bars(market: Market) -> None:
    days = market.bars_between(EURUSD, "D", utc(2026, 3, 2), utc(2026, 3, 16), now=NOW)
    weekdays = [datetime.fromtimestamp(t, timezone.utc).isoweekday() for t in days.time]
    assert weekdays == [1, 2, 3, 4, 5] * 2
    saturday = utc(2026, 3, 7, 12)
    assert len(market.bars_between(EURUSD, "1", saturday, saturday + DAY, now=NOW)) == 0
    assert market.bar_open(EURUSD, "60", saturday) is None
    assert market.next_bar_open(EURUSD, "60", saturday) == utc(2026, 3, 9)


def test_other_timezones_and_overnight_sessions(market: Market) -> None:
    reliance = find_symbol("NSE:RELIANCE")
    assert reliance is not None
    day = market.bars_between(reliance, "D", utc(2026, 3, 10), utc(2026, 3, 11), now=NOW)
    assert list(day.time) == [utc(2026, 3, 10, 3, 45)]  # 09:15 in Kolkata
    # CME's Monday session opens Sunday 17:00 Chicago and lasts 23 hours.
    es_day = market.bars_between(ES, "D", utc(2026, 3, 1), utc(2026, 3, 2), now=NOW)
    assert list(es_day.time) == [utc(2026, 3, 1, 23)]
    es_minutes = market.bars_between(ES, "1", es_day.time[0], es_day.time[0] + DAY, now=NOW)
    assert len(es_minutes) == 23 * 60
    assert es_minutes.time[-1] == utc(2026, 3, 2, 21, 59)


def test_bar_open_is_none_outside_sessions(market: Market) -> None:
    assert market.bar_open(AAPL, "5", local("America/New_York", 2026, 3, 10, 9, 29)) is None
    assert market.bar_open(AAPL, "D", local("America/New_York", 2026, 3, 10, 16)) is None
    inside = local("America/New_York", 2026, 3, 10, 9, 42, 30)
    assert market.bar_open(AAPL, "5", inside) == inside - 2 * MINUTE - 30
    assert market.bar_open(AAPL, "D", inside) == local("America/New_York", 2026, 3, 10, 9, 30)
    assert market.bar_open(AAPL, "1", inside, extended=True) == inside - 30


def test_bar_close_cuts_at_the_session_end(market: Market) -> None:
    last_hour = local("America/New_York", 2026, 3, 10, 15, 30)
    assert market.bar_close(AAPL, "60", last_hour + 60) == last_hour + 30 * MINUTE
    assert market.bar_close(AAPL, "60", last_hour - 60) == last_hour
    friday = local("America/New_York", 2026, 3, 13, 16)
    assert market.bar_close(AAPL, "W", local("America/New_York", 2026, 3, 11, 12)) == friday
    assert market.bar_close(AAPL, "D", friday) is None


def test_next_bar_open_is_strictly_later(market: Market) -> None:
    opening = local("America/New_York", 2026, 3, 10, 9, 30)
    assert market.next_bar_open(AAPL, "5", opening) == opening + 5 * MINUTE
    assert market.next_bar_open(AAPL, "5", opening - 0.5) == opening
    assert market.next_bar_open(BTC, "W", utc(2026, 3, 4)) == utc(2026, 3, 9)
    with pytest.raises(ValueError, match="2070"):
        market.next_bar_open(BTC, "1", utc(2080, 1, 1))


# --------------------------------------------------------------------------- windows


def test_bars_before_respects_end_now_and_count(market: Market) -> None:
    end = utc(2026, 6, 3, 12)
    bars = market.bars_before(BTC, "5", end, 12, now=NOW)
    np.testing.assert_array_equal(bars.time, end - 5 * MINUTE * np.arange(12, 0, -1))
    now = end - 0.5  # the 11:55 bar is forming; nothing opens after now
    assert market.bars_before(BTC, "5", end + 3600, 3, now=now).time[-1] == end - 5 * MINUTE
    assert len(market.bars_before(BTC, "5", end, 0, now=NOW)) == 0
    with pytest.raises(ValueError, match="-1"):
        market.bars_before(BTC, "5", end, -1, now=NOW)


def test_history_has_a_beginning(market: Market) -> None:
    first = market.bars_before(BTC, "D", HISTORY_START + 3 * DAY, 10, now=NOW)
    assert list(first.time) == [HISTORY_START + k * DAY for k in range(3)]
    assert len(market.bars_before(BTC, "1", HISTORY_START, 10, now=NOW)) == 0
    first_month = market.bars_between(BTC, "M", -math.inf, HISTORY_START + 40 * DAY, now=NOW)
    assert list(first_month.time) == [HISTORY_START, utc(2000, 2, 1)]
    latest = market.bars_before(BTC, "M", math.inf, 1, now=NOW)
    assert list(latest.time) == [utc(2026, 11, 1)]


# --------------------------------------------------------------------------- invariants


# The hand-written instruments, plus two of the generated SIMX universe (one of each kind).
CHECKED = {k: v for k, v in CATALOGUE.items() if not k.startswith("SIMX:")} | {
    k: CATALOGUE[k] for k in ("SIMX:T000", "SIMX:T001")
}


@pytest.mark.parametrize("symbol", list(CHECKED.values()), ids=list(CHECKED))
def test_bars_are_well_formed_on_tick_and_plausible(market: Market, symbol: SimSymbol) -> None:
    for resolution in ("1", "60", "D"):
        bars = market.bars_before(symbol, resolution, NOW, 1000, now=NOW)
        assert len(bars) == 1000
        assert np.all(np.diff(bars.time) > 0)
        assert np.all(bars.low <= np.minimum(bars.open, bars.close))
        assert np.all(bars.high >= np.maximum(bars.open, bars.close))
        assert np.all(bars.low > 0)
        ticks = np.stack([bars.open, bars.high, bars.low, bars.close]) * symbol.pricescale
        np.testing.assert_allclose(ticks / symbol.minmov, np.rint(ticks / symbol.minmov),
                                   rtol=0, atol=1e-6)  # fmt: skip
        assert np.all(bars.volume >= 0)
        assert np.any(bars.volume > 0) == symbol.has_volume
        assert np.all(bars.volume == np.floor(bars.volume))
    assert 0.5 < bars.close[-1] / symbol.base_price < 2.0


@pytest.mark.parametrize("name", ["NASDAQ:TSLA", "BINANCE:ETHUSDT", "FX:EURUSD", "SP:SPX"])
def test_daily_volatility_matches_the_symbol(market: Market, name: str) -> None:
    symbol = CATALOGUE[name]
    daily = market.bars_before(symbol, "D", NOW, 1500, now=NOW)
    per_year = len(symbol.session_days) * 365.25 / 7
    realised = np.std(np.diff(np.log(daily.close))) * math.sqrt(per_year)
    assert 0.75 * symbol.volatility < realised < 1.25 * symbol.volatility


# --------------------------------------------------------------------------- forming bars


def partial(final: SimBars, f: float) -> dict[str, float]:
    """The spec's partial state of a 1-minute bar ``f`` of the way through."""
    o, h, lo, c, v = (float(getattr(final, n)[0]) for n in COLUMNS[1:])
    close = o + f * (c - o)
    return {
        "close": close,
        "high": max(o, close) + f * (h - max(o, c)),
        "low": min(o, close) - f * (min(o, c) - lo),
        "volume": f * v,
    }


def test_forming_minute_follows_the_formula_and_converges(market: Market) -> None:
    start = utc(2026, 6, 3, 12, 17)
    final = market.bars_between(BTC, "1", start, start + MINUTE, now=NOW)
    tick = BTC.minmov / BTC.pricescale
    states = []
    for f in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999):
        bar = market.bars_before(BTC, "1", math.inf, 1, now=start + f * MINUTE)
        assert bar.time[0] == start and bar.open[0] == final.open[0]
        expected = partial(final, f)
        # Close rounds once; high and low add two rounded terms, so they may be a tick off.
        for name, slack in (("close", tick / 2), ("high", tick), ("low", tick)):
            assert abs(getattr(bar, name)[0] - expected[name]) <= slack + 1e-9, name
        assert abs(bar.volume[0] - expected["volume"]) <= 1
        states.append(bar)
    assert np.all(np.diff([s.high[0] for s in states]) >= 0)
    assert np.all(np.diff([s.low[0] for s in states]) <= 0)
    assert np.all(np.diff([s.volume[0] for s in states]) >= 0)
    at_end = market.bars_before(BTC, "1", math.inf, 2, now=start + MINUTE)
    assert_same(SimBars(*(v[:1] for v in columns(at_end).values())), columns(final))
    fresh = at_end.open[1], at_end.high[1], at_end.low[1], at_end.close[1], at_end.volume[1]
    assert fresh == (final.close[0],) * 4 + (0.0,)


@pytest.mark.parametrize(
    ("resolution", "span"), [("5", 300), ("60", 3600), ("D", DAY), ("W", 7 * DAY)]
)
def test_forming_bars_aggregate_complete_minutes_and_the_partial_one(
    market: Market, resolution: str, span: int
) -> None:
    opened = market.bar_open(AAPL, resolution, local("America/New_York", 2026, 3, 11, 14, 12))
    assert opened is not None
    previous_high = -math.inf
    for offset in (0.0, 30.5, 61.0, 299.9, 1234.5, 5000.0, 20_000.0):
        now = opened + offset
        if market.bar_open(AAPL, "1", now) is None or offset >= span:
            continue
        forming = market.bars_before(AAPL, resolution, math.inf, 1, now=now)
        minutes = market.bars_between(AAPL, "1", opened, now + 1, now=now)
        assert forming.time[0] == opened
        assert_same(forming, rollup(minutes, np.zeros(len(minutes), dtype=np.int64)))
        assert forming.high[0] >= previous_high
        previous_high = forming.high[0]


def test_forming_daily_bar_converges_to_the_final_bar(market: Market) -> None:
    opened = local("America/New_York", 2026, 3, 11, 9, 30)
    final = market.bars_between(AAPL, "D", opened, opened + 1, now=NOW)
    highs, lows = [], []
    for minute in range(0, 390, 7):
        bar = market.bars_before(AAPL, "D", opened + 1, 1, now=opened + minute * MINUTE + 17.3)
        assert bar.open[0] == final.open[0]
        highs.append(bar.high[0])
        lows.append(bar.low[0])
    assert np.all(np.diff(highs) >= 0) and np.all(np.diff(lows) <= 0)
    assert highs[-1] <= final.high[0] and lows[-1] >= final.low[0]
    closed = market.bars_before(AAPL, "D", opened + 1, 1, now=opened + 390 * MINUTE)
    assert_same(closed, columns(final))


def test_forming_weekly_bar_between_sessions_holds_complete_days(market: Market) -> None:
    tuesday_night = local("America/New_York", 2026, 3, 10, 22)
    weekly = market.bars_before(AAPL, "W", math.inf, 1, now=tuesday_night)
    days = market.bars_before(AAPL, "D", math.inf, 2, now=tuesday_night)
    assert_same(weekly, rollup(days, np.zeros(2, dtype=np.int64)))


def test_forming_seconds_bar(market: Market) -> None:
    start = utc(2026, 6, 3, 12, 17, 30)
    final = market.bars_between(BTC, "15S", start, start + 15, now=NOW)
    seconds = market.bars_between(BTC, "1S", start, start + 8, now=start + 7.5)
    forming = market.bars_before(BTC, "15S", math.inf, 1, now=start + 7.5)
    assert_same(forming, rollup(seconds, np.zeros(8, dtype=np.int64)))
    assert final.high[0] >= forming.high[0] and final.low[0] <= forming.low[0]


# --------------------------------------------------------------------------- catalogue, clock


def test_catalogue_covers_the_required_instruments() -> None:
    assert len(CATALOGUE) >= 20
    assert {s.type for s in CATALOGUE.values()} == {"stock", "crypto", "forex", "index", "futures"}
    assert not SPX.has_volume and not CATALOGUE["TVC:DXY"].has_volume
    assert CATALOGUE["FX:USDJPY"].pricescale == 1000
    korean = [s.local_description for s in CATALOGUE.values() if s.local_description]
    assert any(len(d.encode("utf-16-le")) // 2 > len(d) for d in korean)  # an astral character


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("NASDAQ:AAPL", "NASDAQ:AAPL"),
        ("nasdaq:aapl", "NASDAQ:AAPL"),
        ("AAPL", "NASDAQ:AAPL"),
        ("btcusd", "COINBASE:BTCUSD"),
        ("ES1!", "CME_MINI:ES1!"),
        ("NYSE:AAPL", None),
        ("NOPE", None),
        ("", None),
    ],
)
def test_find_symbol(ref: str, expected: str | None) -> None:
    found = find_symbol(ref)
    assert (found.full_name if found else None) == expected


def test_manual_clock_moves_only_when_told() -> None:
    clock = SimClock()
    assert clock.now() == DEFAULT_START == utc(2026, 11, 2, 15) and not clock.realtime
    assert clock.advance(90) == DEFAULT_START + 90
    clock.set(HISTORY_START)
    assert clock.now() == HISTORY_START
    with pytest.raises(ValueError, match="-1"):
        clock.advance(-1)


def test_manual_clock_is_thread_safe() -> None:
    clock = SimClock(0.0)
    threads = [threading.Thread(target=lambda: [clock.advance(1) for _ in range(1000)])
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == 4000.0


def test_realtime_clock_follows_the_wall_clock_from_its_start() -> None:
    clock = SimClock(DEFAULT_START, realtime=True)
    assert clock.realtime and abs(clock.now() - DEFAULT_START) < 5
    for move in (lambda: clock.advance(1), lambda: clock.set(0)):
        with pytest.raises(RuntimeError, match="real-time"):
            move()
