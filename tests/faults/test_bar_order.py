"""Bars from a server that repeats, reorders or jumps in time: the consumer still gets each bar
closed once, in time order, with the market's final values (deduplicated by bar time)."""

from __future__ import annotations

from tests.faults.figures import Figures
from tests.faults.helpers import (
    Collected,
    check_against_market,
    fast_backoff,
    read_until,
    start_reading,
)
from tvframe import Client
from tvframe.sim import running

SYMBOLS = ["BINANCE:BTCUSDT", "NASDAQ:AAPL", "FX:EURUSD"]
# Pushes of 1, 2 and 3 closed bars: every arrangement of the du messages of one push.
STEPS = [60, 90, 150, 180, 30, 120]


async def stream_with_fault(fault: str, figures: Figures) -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=5) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            getattr(sim.faults, fault)(True)
            for step in STEPS:
                sim.advance(step)
            # Formed, not caught up: a client that loses bars must fail the comparison, not hang.
            await read_until(stream, got, lambda: got.formed(sim, SYMBOLS))
        figures.record(f"server {fault.replace('_', ' ')} in every live push")
        figures.record(pushes=len(STEPS), closed_received=sum(map(len, got.closed.values())))
        compared = check_against_market(sim, got, first)
    figures.record(bars_compared=compared)


async def test_duplicated_bars_are_delivered_once(figures: Figures) -> None:
    await stream_with_fault("duplicate_bars", figures)


async def test_reordered_bars_are_delivered_in_order_with_final_values(figures: Figures) -> None:
    await stream_with_fault("reorder_bars", figures)


async def test_clock_jumps_forward_hours_in_one_push(figures: Figures) -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=5) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            # Six hours at once: AAPL's session closes meanwhile, crypto and FX go on.
            sim.advance(6 * 3600 + 30)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert compared > 2 * 6 * 60
    figures.record(
        "clock jumps 6 h forward between two pushes", bars_compared=compared,
        reconnects=client.reconnects,
    )  # fmt: skip


async def test_clock_jumps_back_then_catches_up(figures: Figures) -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=5) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.advance(300)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
            before = sum(map(len, got.closed.values()))
            sim.clock.set(sim.clock.now() - 240)  # back four minutes: nothing is re-sent
            sim.advance(10)
            sim.advance(420)  # forward past where it was
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert compared > before
    figures.record("clock jumps 4 min back, then forward past where it was", bars_compared=compared)
