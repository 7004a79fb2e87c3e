"""Reconnect and backfill: sockets killed mid-bar, yet every bar arrives once, in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pytest

from tvframe import Client
from tvframe.client import backoff
from tvframe.errors import AuthError
from tvframe.events import BarUpdate, Reconnected, StreamEvent
from tvframe.sim import SimHandle, running
from tvframe.sim.catalogue import find_symbol
from tvframe.stream import Stream

SYMBOLS = ["BINANCE:BTCUSDT", "NASDAQ:AAPL", "FX:EURUSD"]


def fast_backoff() -> Iterator[float]:
    return backoff(0.01, 2.0, 0.1, jitter=0.0)


async def next_event(stream: Stream) -> StreamEvent:
    return await asyncio.wait_for(stream.__anext__(), 10)


def market_rows(sim: SimHandle, symbol: str, start: float, end: float) -> np.ndarray:
    bars = sim.market.bars_between(find_symbol(symbol), "1", start, end, now=sim.clock.now())
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def rows(events: list[BarUpdate]) -> np.ndarray:
    return np.array([[e.bar.time, e.bar.open, e.bar.high, e.bar.low, e.bar.close, e.bar.volume]
                     for e in events])  # fmt: skip


async def read_until_reconnected(
    stream: Stream, closed: dict[str, list[BarUpdate]], reconnects: list[Reconnected]
) -> None:
    before = len(reconnects)
    while len(reconnects) == before:
        event = await next_event(stream)
        if isinstance(event, Reconnected):
            reconnects.append(event)
        elif isinstance(event, BarUpdate) and event.closed:
            closed[event.symbol].append(event)


async def test_killed_mid_bar_several_times_every_bar_arrives_once() -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        closed: dict[str, list[BarUpdate]] = defaultdict(list)
        reconnects: list[Reconnected] = []
        first_time = sim.clock.now() - 2 * 60
        async with client, client.stream(SYMBOLS, "1m", n_bars=3) as stream:
            loaded: set[str] = set()
            while loaded != set(SYMBOLS):  # the initial loads, before time moves
                event = await next_event(stream)
                assert isinstance(event, BarUpdate)
                if event.closed:
                    closed[event.symbol].append(event)
                else:
                    loaded.add(event.symbol)
            for _ in range(4):
                sim.advance(90)  # half-way through a bar
                sim.faults.drop()
                sim.advance(150)  # bars close while the socket is down (or just back)
                await read_until_reconnected(stream, closed, reconnects)
            sim.advance(60)
            last_open = (sim.clock.now() // 60) * 60 - 60
            while any(not closed[s] or closed[s][-1].bar.time < last_open for s in SYMBOLS):
                event = await next_event(stream)
                if isinstance(event, BarUpdate) and event.closed:
                    closed[event.symbol].append(event)
        assert len(reconnects) == 4 and client.reconnects == 4
        assert sim.stats.connections == 5
        for symbol in SYMBOLS:
            events = closed[symbol]
            times = [e.bar.time for e in events]
            assert times == sorted(set(times)), f"{symbol}: duplicate or out-of-order bars"
            assert [e.index for e in events] == list(range(len(events)))
            expected = market_rows(sim, symbol, first_time, last_open + 1)
            np.testing.assert_array_equal(rows(events), expected)


async def test_silent_server_is_detected_and_reconnected() -> None:
    with running(heartbeat_interval=0.05) as sim:
        client = Client(sim.url, timeout=1.0, heartbeat_timeout=0.3, reconnect_delays=fast_backoff)
        async with client, client.stream("BINANCE:BTCUSDT", "1m") as stream:
            await next_event(stream)
            sim.faults.silence(True)
            reconnects: list[Reconnected] = []
            waiting = asyncio.ensure_future(
                read_until_reconnected(stream, defaultdict(list), reconnects)
            )
            # The client gives up on the silent socket by itself and dials again.
            while sim.stats.connections < 2:
                await asyncio.sleep(0.01)
            sim.faults.silence(False)
            await asyncio.wait_for(waiting, 10)
        assert reconnects and "heartbeat" in reconnects[0].reason


async def test_refused_handshakes_are_retried_with_backoff() -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        async with client, client.stream("BINANCE:BTCUSDT", "1m") as stream:
            await next_event(stream)
            sim.faults.refuse(3, status=429)
            sim.faults.drop()
            await read_until_reconnected(stream, defaultdict(list), [])
        assert sim.stats.handshakes_refused == 3
        assert sim.stats.connections == 2  # no reconnect storm: 3 refused, then one success


async def test_auth_errors_are_not_retried() -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        async with client, client.stream("BINANCE:BTCUSDT", "1m") as stream:
            await next_event(stream)
            sim.faults.protocol_error("bad auth token")
            with pytest.raises(AuthError):
                while True:
                    await next_event(stream)
        assert sim.stats.connections == 1
