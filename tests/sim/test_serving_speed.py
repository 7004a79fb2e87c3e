"""The simulator's history and live serving: cached and fast, yet the same bytes (issue 6).

History JSON comes from a :class:`HistoryCache` and the market caches what it built; none of
that may change a byte on the wire, let stale forming bars through, or outgrow its bound.
The expected texts here are built the plain way (a dict per bar, ``tolist``, ``orjson``),
which is what the simulator sent before it cached anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tvframe.protocol import DataUpdate, FrameDecoder, TimescaleUpdate, decode_message
from tvframe.sim import DEFAULT_START, SimClock, SimConfig, SimStats
from tvframe.sim.catalogue import CATALOGUE
from tvframe.sim.market import Market, SimBars
from tvframe.sim.session import ClientSession, HistoryCache

CONFIG = SimConfig(bars_per_request=20_000, max_depth=100_000, seconds_entitled=True)
NODE = CONFIG.node
Call = tuple[str, list[Any]]


def payloads(frames: list[str]) -> list[str]:
    decoder = FrameDecoder()
    return [item for frame in frames for item in decoder.feed(frame) if isinstance(item, str)]


def send(session: ClientSession, *calls: Call) -> list[str]:
    """The payloads answering ``calls``, each sent in a frame of its own."""
    frames: list[str] = []
    for method, params in calls:
        frames += session.receive([orjson.dumps({"m": method, "p": params}).decode()])
    return payloads(frames)


def load(
    session: ClientSession,
    cs: str,
    descriptor: str,
    resolution: str,
    count: int,
    *,
    series_id: str = "sds_1",
    turnaround: str = "s1",
) -> list[str]:
    return send(
        session,
        ("chart_create_session", [cs, ""]),
        ("resolve_symbol", [cs, "sym", descriptor]),
        ("create_series", [cs, series_id, turnaround, "sym", resolution, count, ""]),
    )


def of_method(texts: list[str], method: str) -> list[str]:
    return [t for t in texts if orjson.loads(t)["m"] == method]


def session(market: Market, clock: SimClock, cache: HistoryCache) -> ClientSession:
    return ClientSession(CONFIG, market, clock, SimStats(), history_cache=cache)


def columns(bars: SimBars, with_volume: bool) -> list[np.ndarray[Any, np.dtype[np.float64]]]:
    cols = [bars.time, bars.open, bars.high, bars.low, bars.close]
    return [*cols, bars.volume] if with_volume else cols


def week_start(day: datetime) -> datetime:
    return day - timedelta(days=day.weekday())


def reference_marks(times: list[float], first: int) -> list[list[int]]:
    """Tick marks by calendar arithmetic: year 70, month 60, week (from Monday) 50, day 40."""
    marks: list[list[int]] = []
    previous = None
    for k, t in enumerate(times):
        day = datetime.fromtimestamp(int(t), timezone.utc)
        before = previous or day
        if day.year != before.year:
            weight = 70
        elif day.month != before.month:
            weight = 60
        elif week_start(day).date() != week_start(before).date():
            weight = 50
        elif day.date() != before.date():
            weight = 40
        else:
            weight = 30
        marks.append([weight, int(t), first + k])
        previous = day
    return marks


def reference_timescale_update(
    cs: str, series_id: str, turnaround: str, bars: SimBars, with_volume: bool, close: int
) -> str:
    """The initial load's ``timescale_update`` as a dict per bar and ``orjson`` write it."""
    rows = np.column_stack(columns(bars, with_volume)).tolist()
    obj = {
        "node": NODE,
        "s": [{"i": k, "v": row} for k, row in enumerate(rows)],
        "ns": {"d": "", "indexes": []},
        "t": turnaround,
        "lbs": {"bar_close_time": close},
    }
    times = bars.time.tolist()
    timescale = {
        "index": 0,
        "zoffset": 0,
        "changes": times,
        "marks": reference_marks(times, 0),
        "index_diff": [],
    }
    message = {
        "m": "timescale_update",
        "p": [cs, {series_id: obj}, timescale],
        "t": int(DEFAULT_START),
        "t_ms": int(DEFAULT_START * 1000),
    }
    return orjson.dumps(message).decode()


def assert_same_bars(actual: Any, expected: SimBars, with_volume: bool) -> None:
    for name in ("time", "open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(actual, name), getattr(expected, name), name)
    if with_volume:
        np.testing.assert_array_equal(actual.volume, expected.volume)


CASES = [
    ("SIMX:T000", "1", 5000),
    ("NASDAQ:AAPL", "5", 3000),
    ('={"adjustment":"dividends","session":"extended","symbol":"NASDAQ:AAPL"}', "1", 4000),
    ("SP:SPX", "60", 2500),
    ("BINANCE:BTCUSDT", "D", 1500),
    ("CME_MINI:ES1!", "W", 300),
    ("SIMX:T002", "10S", 3000),
]


@pytest.mark.parametrize(("descriptor", "resolution", "count"), CASES)
def test_history_text_is_the_plain_json_of_the_market_bars(
    descriptor: str, resolution: str, count: int
) -> None:
    market, clock = Market(), SimClock()
    texts = load(session(market, clock, HistoryCache()), "cs_a", descriptor, resolution, count)
    [sent] = of_method(texts, "timescale_update")
    name = orjson.loads(descriptor[1:])["symbol"] if descriptor.startswith("=") else descriptor
    symbol = CATALOGUE[name]
    adjusted = "dividends" in descriptor
    bars = Market().bars_before(
        symbol, resolution, DEFAULT_START + 1, count, now=DEFAULT_START,
        extended=adjusted, adjustment="dividends" if adjusted else "splits",
    )  # fmt: skip
    close = market.bar_close(symbol, resolution, float(bars.time[-1]), extended=adjusted)
    assert close is not None
    expected = reference_timescale_update(
        "cs_a", "sds_1", "s1", bars, symbol.has_volume, int(close)
    )
    assert sent == expected


@pytest.mark.parametrize(("descriptor", "resolution", "count"), CASES[:4])
def test_a_repeated_request_sends_the_same_text_apart_from_the_ids(
    descriptor: str, resolution: str, count: int
) -> None:
    market, clock, cache = Market(), SimClock(), HistoryCache()
    first = load(session(market, clock, cache), "cs_first", descriptor, resolution, count)
    cached = len(cache)
    again = load(
        session(market, clock, cache), "cs_again", descriptor, resolution, count,
        series_id="sds_9", turnaround="s7",
    )  # fmt: skip
    assert len(cache) == cached, "the repeat is served from the cache"
    renamed = [
        t.replace("cs_again", "cs_first").replace("sds_9", "sds_1").replace('"s7"', '"s1"')
        for t in again
    ]
    assert renamed == first
    # Rendering afresh (another, empty cache) gives the cached text too.
    other = load(session(market, clock, HistoryCache()), "cs_first", descriptor, resolution, count)
    assert other == first


def test_the_payload_decodes_to_the_market_bars_and_pages_continue_them() -> None:
    market, clock, cache = Market(), SimClock(), HistoryCache()
    client = session(market, clock, cache)
    symbol = CATALOGUE["NASDAQ:AAPL"]
    texts = load(client, "cs_a", "NASDAQ:AAPL", "1", 3000)
    texts += send(client, ("request_more_data", ["cs_a", "sds_1", 2000]))
    loaded, paged = (decode_message(t) for t in of_method(texts, "timescale_update"))
    assert isinstance(loaded, TimescaleUpdate) and isinstance(paged, TimescaleUpdate)
    fresh = Market()
    newest = fresh.bars_before(symbol, "1", DEFAULT_START + 1, 3000, now=DEFAULT_START)
    older = fresh.bars_before(symbol, "1", float(newest.time[0]), 2000, now=DEFAULT_START)
    assert_same_bars(loaded.series[0].bars, newest, True)
    assert_same_bars(paged.series[0].bars, older, True)
    assert loaded.series[0].bars.index.tolist() == list(range(3000))
    assert paged.series[0].bars.index.tolist() == list(range(-2000, 0))
    assert (paged.index, paged.zoffset) == (-2000, 2000)


def test_the_cache_stays_within_its_byte_bound() -> None:
    bound = 1_000_000  # about ten of these answers
    market, clock, cache = Market(), SimClock(), HistoryCache(max_bytes=bound)
    requests = [(f"SIMX:T{i % 6:03d}", 300 + 20 * i) for i in range(24)]
    for k, (name, count) in enumerate(requests):
        load(session(market, clock, cache), f"cs_{k}", name, "1", count)
        assert 0 < cache.nbytes <= bound
    assert 1 < len(cache) < len(requests), "old entries went, recent ones stayed"
    newest = len(cache)
    load(session(market, clock, cache), "cs_again", *requests[-1][:1], "1", requests[-1][1])
    assert len(cache) == newest, "the latest request is still cached"
    # An answer larger than the whole bound is sent, not kept.
    big = load(session(market, clock, cache), "cs_big", "SIMX:T010", "1", 20_000)
    assert len(orjson.loads(of_method(big, "timescale_update")[0])["p"][1]["sds_1"]["s"]) == 20_000
    assert cache.nbytes <= bound


@settings(max_examples=60, deadline=None)
@given(
    prices=hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 40), st.just(5)),
        elements=st.floats(allow_nan=False, allow_infinity=False, width=64),
    ),
    first_time=st.integers(0, 3_155_760_000),  # up to 2070, as the market
    first=st.integers(-1_000_000_100, 1_000_000),
    with_volume=st.booleans(),
)
def test_rendered_points_are_orjson_of_a_dict_per_bar(
    prices: np.ndarray[Any, np.dtype[np.float64]], first_time: int, first: int, with_volume: bool
) -> None:
    times = np.arange(len(prices), dtype=np.float64) * 60.0 + first_time
    bars = SimBars(times, *(prices[:, k].copy() for k in range(5)))
    rendered = HistoryCache(max_bytes=1 << 20).render(bars, with_volume, first)
    rows = np.column_stack(columns(bars, with_volume)).tolist() if len(bars) else []
    expected = [{"i": first + k, "v": row} for k, row in enumerate(rows)]
    assert orjson.dumps(rendered.points) == orjson.dumps(expected)
    assert orjson.dumps(rendered.changes) == orjson.dumps(times.tolist())
    assert orjson.dumps(rendered.marks) == orjson.dumps(reference_marks(times.tolist(), first))


# --- time moves --------------------------------------------------------------------------


LIVE = [("SIMX:T000", "1"), ("NASDAQ:AAPL", "5"), ("SIMX:T002", "5S"), ("BINANCE:ETHUSDT", "D")]


def last_bars(texts: list[str]) -> dict[str, tuple[int, tuple[float, ...]]]:
    """Each series' newest bar in ``du`` messages: its index and row."""
    newest: dict[str, tuple[int, tuple[float, ...]]] = {}
    for text in of_method(texts, "du"):
        event = decode_message(text)
        assert isinstance(event, DataUpdate)
        for series in event.series:
            newest[event.session] = (int(series.bars.index[-1]), series.bars.rows()[-1])
    return newest


def test_live_pushes_follow_the_clock_like_a_fresh_market() -> None:
    market, clock, cache = Market(), SimClock(), HistoryCache()
    client = session(market, clock, cache)
    for k, (name, resolution) in enumerate(LIVE):
        load(client, f"cs_{k}", name, resolution, 500)
    # Seconds, a new minute, the US close (21:00 UTC), a new day.
    steps = [1.0] * 3 + [58.5, 0.5, 1.0, 6 * 3600.0 - 60.0, 3600.0, 12 * 3600.0]
    changed = set()
    seen: dict[str, tuple[int, tuple[float, ...]]] = {}
    for step in steps:
        now = clock.advance(step)
        pushed = last_bars(payloads(client.live_updates()))
        fresh = Market()
        for k, (name, resolution) in enumerate(LIVE):
            cs = f"cs_{k}"
            if cs not in pushed:
                continue
            changed.add(cs) if cs in seen and pushed[cs] != seen[cs] else None
            seen[cs] = pushed[cs]
            expected = fresh.bars_before(
                CATALOGUE[name], resolution, now + 1, 1, now=now, adjusted_at=DEFAULT_START
            )
            row = tuple(float(getattr(expected, c)[0]) for c in ("time", "open", "high", "low"))
            assert pushed[cs][1][:4] == row, (name, step)
            assert pushed[cs][1][4] == float(expected.close[0])
    assert changed == {f"cs_{k}" for k in range(len(LIVE))}, "every forming bar moved"


def test_history_after_the_clock_moved_has_the_new_forming_bar() -> None:
    market, clock, cache = Market(), SimClock(), HistoryCache()
    symbol = CATALOGUE["SIMX:T000"]
    before = load(session(market, clock, cache), "cs_a", "SIMX:T000", "5", 1000)
    for step in (1.0, 1.0, 299.0, 0.25):
        now = clock.advance(step)
        after = load(session(market, clock, cache), "cs_a", "SIMX:T000", "5", 1000)
        assert of_method(after, "timescale_update") != of_method(before, "timescale_update")
        event = decode_message(of_method(after, "timescale_update")[0])
        assert isinstance(event, TimescaleUpdate)
        expected = Market().bars_before(symbol, "5", now + 1, 1000, now=now)
        assert_same_bars(event.series[0].bars, expected, True)
        before = after


@pytest.mark.parametrize(
    ("resolution", "count"),
    [("1S", 300), ("15S", 300), ("1", 300), ("3", 300), ("60", 300), ("240", 300),
     ("D", 100), ("W", 20), ("M", 6)],
)  # fmt: skip
def test_the_market_caches_give_the_bars_of_a_fresh_market(resolution: str, count: int) -> None:
    shared = Market()
    symbol = CATALOGUE["NASDAQ:MSFT"]
    now = DEFAULT_START
    # Within a second, a minute, an hour; past the close; days later.
    for step in (0.0, 0.5, 1.0, 59.0, 3600.0, 5 * 3600.0 + 0.75, 86_400.0 * 3):
        now += step
        for extended in (False, True):
            cached = shared.bars_before(
                symbol, resolution, now + 1, count, now=now, extended=extended
            )
            again = shared.bars_between(
                symbol, resolution, float(cached.time[0]), now + 1, now=now, extended=extended
            )
            expected = Market().bars_before(
                symbol, resolution, now + 1, count, now=now, extended=extended
            )
            assert_same_bars(cached, expected, True)
            assert_same_bars(again, expected, True)
