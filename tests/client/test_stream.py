"""Client.stream against the simulator: bars close exactly once, in order, equal to the market."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import numpy as np

from tvframe import Client
from tvframe.errors import InvalidSymbolError
from tvframe.events import BarUpdate, QuoteUpdate, StreamEvent, SymbolFailed
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import find_symbol
from tvframe.stream import Stream


async def next_event(stream: Stream) -> StreamEvent:
    return await asyncio.wait_for(stream.__anext__(), 10)


async def closed_bars(stream: Stream, want: dict[str, int]) -> dict[str, list[BarUpdate]]:
    """Read until each symbol has delivered ``want[symbol]`` closed bars."""
    got: dict[str, list[BarUpdate]] = defaultdict(list)
    while any(len(got[s]) < n for s, n in want.items()):
        event = await next_event(stream)
        if isinstance(event, BarUpdate) and event.closed:
            got[event.symbol].append(event)
    return got


def market_closed(
    sim: SimHandle, symbol: str, resolution: str, start: float, end: float
) -> np.ndarray:
    bars = sim.market.bars_between(find_symbol(symbol), resolution, start, end, now=sim.clock.now())
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def as_rows(events: list[BarUpdate]) -> np.ndarray:
    return np.array([[e.bar.time, e.bar.open, e.bar.high, e.bar.low, e.bar.close, e.bar.volume]
                     for e in events])  # fmt: skip


async def test_initial_load_then_live_bars_close_once_in_order(sim: SimHandle) -> None:
    symbols = ["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"]
    start = sim.clock.now()
    async with Client(sim.url) as client, client.stream(symbols, "1m", n_bars=5) as stream:
        initial = await closed_bars(stream, {s: 4 for s in symbols})
        sim.advance(10 * 60)
        live = await closed_bars(stream, {s: 10 for s in symbols})
    for symbol in symbols:
        events = initial[symbol] + live[symbol]
        assert [e.index for e in events] == list(range(14))
        times = [e.bar.time for e in events]
        assert times == sorted(set(times))
        expected = market_closed(sim, symbol, "1", start - 4 * 60, start + 10 * 60)
        np.testing.assert_array_equal(as_rows(events), expected)


async def test_forming_bar_updates_in_place(sim: SimHandle) -> None:
    async with Client(sim.url) as client, client.stream("BINANCE:BTCUSDT", "5m") as stream:
        first = await next_event(stream)
        assert isinstance(first, BarUpdate) and not first.closed
        sim.advance(60)
        second = await next_event(stream)
    assert isinstance(second, BarUpdate) and not second.closed
    assert second.index == first.index and second.bar.time == first.bar.time
    assert second.bar.high >= first.bar.high and second.bar.low <= first.bar.low


async def test_a_bad_symbol_fails_alone(sim: SimHandle) -> None:
    symbols = ["NASDAQ:NOPE", "NASDAQ:AAPL"]
    async with Client(sim.url) as client, client.stream(symbols, "1m", n_bars=2) as stream:
        seen: dict[type, list[StreamEvent]] = defaultdict(list)
        while not (seen[SymbolFailed] and seen[BarUpdate]):
            event = await next_event(stream)
            seen[type(event)].append(event)
        failed = seen[SymbolFailed][0]
        assert isinstance(failed, SymbolFailed) and failed.symbol == "NASDAQ:NOPE"
        assert isinstance(failed.error, InvalidSymbolError)
        assert stream.symbols == ["NASDAQ:AAPL"]


async def test_subscribe_and_unsubscribe_while_streaming(sim: SimHandle) -> None:
    async with Client(sim.url) as client, client.stream("BINANCE:BTCUSDT", "1m") as stream:
        await next_event(stream)
        await stream.subscribe(["NASDAQ:AAPL"])
        got = await closed_bars(stream, {})
        assert not got
        seen = set()
        while "NASDAQ:AAPL" not in seen:
            event = await next_event(stream)
            assert isinstance(event, BarUpdate)
            seen.add(event.symbol)
        await stream.unsubscribe(["BINANCE:BTCUSDT"])
        assert stream.symbols == ["NASDAQ:AAPL"]
        sim.advance(60)
        after = [await next_event(stream) for _ in range(2)]
    assert {e.symbol for e in after if isinstance(e, BarUpdate)} == {"NASDAQ:AAPL"}


async def test_slow_consumer_forming_updates_coalesce(sim: SimHandle) -> None:
    async with Client(sim.url) as client, client.stream("BINANCE:BTCUSDT", "1h") as stream:
        await next_event(stream)
        for _ in range(30):
            sim.advance(10)  # 30 forming-bar updates while nobody reads
        # A reply on the same socket arrives after every update sent before it.
        await client.history("BINANCE:BTCUSDT", "1h", 1)
        assert stream.backlog == 1
        latest = await next_event(stream)
    assert isinstance(latest, BarUpdate) and not latest.closed
    expected = market_closed(sim, "BINANCE:BTCUSDT", "60", latest.bar.time, latest.bar.time + 1)
    assert [latest.bar.time, latest.bar.open, latest.bar.high, latest.bar.low, latest.bar.close,
            latest.bar.volume] == expected[0].tolist()  # fmt: skip


async def test_100_symbols_on_one_socket(sim: SimHandle) -> None:
    from tvframe.sim.catalogue import universe

    symbols = [s.full_name for s in universe(100)]
    async with Client(sim.url) as client, client.stream(symbols, "1d", n_bars=3) as stream:
        got = await closed_bars(stream, {s: 2 for s in symbols})
    assert set(got) == set(symbols)
    assert all(len(events) == 2 for events in got.values())
    assert sim.stats.connections == 1
    assert sim.stats.messages["create_series"] == 100


async def test_quotes_merge_diffs(sim: SimHandle) -> None:
    async with (
        Client(sim.url) as client,
        client.stream("BINANCE:BTCUSDT", "1m", quotes=True) as stream,
    ):
        quote = None
        while quote is None:
            event = await next_event(stream)
            if isinstance(event, QuoteUpdate):
                quote = event
    assert quote.symbol == "BINANCE:BTCUSDT"
    assert isinstance(quote.quote["lp"], float)
