"""Sockets that die: cut mid-frame, closed mid-bar with every close code, dropped mid-load,
silent until the heartbeat watchdog fires, closed after a protocol_error; and one session
killed by critical_error while the others stream. After each, what the consumer received
equals what the simulator's market generated over the same span.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pandas as pd
import pytest

from tests.faults.figures import Figures
from tests.faults.helpers import (
    WAIT,
    Collected,
    Proxy,
    check_against_market,
    fast_backoff,
    read_until,
    start_reading,
)
from tvframe import Client
from tvframe.errors import CriticalError
from tvframe.sim import SimHandle, running

SYMBOLS = ["BINANCE:BTCUSDT", "NASDAQ:AAPL", "FX:EURUSD"]
N_BARS = 5


async def wait_for_stat(read: Callable[[], int], minimum: int) -> None:
    """Wait until a simulator counter reaches ``minimum``.

    The simulator offers counters, not events, for what happens on its own thread.
    """
    deadline = time.monotonic() + WAIT
    while read() < minimum:
        assert time.monotonic() < deadline, f"counter stuck at {read()} < {minimum}"
        await asyncio.sleep(0.005)


async def test_socket_cut_mid_frame_loses_and_repeats_no_bar(figures: Figures) -> None:
    cuts = 3
    with running() as sim, Proxy(sim.url) as proxy:
        client = Client(proxy.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            for k in range(cuts):
                proxy.cut_frame(1)  # the live push of the next advance arrives half-written
                sim.advance(90)
                sim.advance(60)  # a bar closes while the socket is down or coming back
                await read_until(stream, got, got.reconnected(k + 1))
            sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert proxy.cuts == cuts and client.reconnects == cuts
    assert proxy.connections == cuts + 1
    figures.record(
        "socket cut in the middle of a protocol message (3 times, 3 symbols)",
        cuts=cuts, reconnects=client.reconnects, bars_compared=compared,
    )  # fmt: skip


async def test_reload_cut_mid_frame_is_retried(figures: Figures) -> None:
    # The frame cut is the reply to the resubscription: the socket dies mid-load.
    with running() as sim, Proxy(sim.url) as proxy:
        client = Client(proxy.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.advance(90)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
            proxy.cut_frame(2)  # frame 1: the new socket's hello; frame 2: the reloads
            sim.faults.drop()
            sim.advance(120)
            await read_until(stream, got, lambda: proxy.cuts == 1 and len(got.reconnects) >= 1)
            sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert proxy.connections == 3
    figures.record(
        "socket cut in the middle of the reload after a reconnect",
        connections=proxy.connections, reconnects=client.reconnects, bars_compared=compared,
    )  # fmt: skip


@pytest.mark.parametrize("code", [None, 1000, 1001, 1005, 1011, 4000])
async def test_closed_mid_bar_with_any_close_code(code: int | None, figures: Figures) -> None:
    drops = 2
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            for k in range(drops):
                sim.advance(30)  # mid-bar
                sim.faults.drop(code)
                sim.advance(150)
                await read_until(stream, got, got.reconnected(k + 1))
            sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert client.reconnects == drops and sim.stats.connections == drops + 1
    figures.record(
        f"socket closed mid-bar, close code {code or 'none (abrupt, 1006)'}",
        drops=drops, reconnects=client.reconnects, bars_compared=compared,
    )  # fmt: skip


@pytest.mark.parametrize("messages", [1, 2, 3, 5, 8])
async def test_dropped_mid_load_after_a_few_messages(messages: int, figures: Figures) -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.faults.drop_after(messages)  # the next socket dies after `messages` messages
            sim.faults.drop()
            await wait_for_stat(lambda: sim.stats.drops, 2)
            sim.faults.drop_after(None)
            sim.advance(120)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert sim.stats.drops == 2 and sim.stats.connections >= 3
    figures.record(
        f"reconnected socket dropped after {messages} server message(s), mid-load",
        connections=sim.stats.connections, bars_compared=compared,
    )  # fmt: skip


async def test_silent_server_is_given_up_after_the_heartbeat_timeout(figures: Figures) -> None:
    heartbeat_timeout = 0.3
    with running(heartbeat_interval=0.05) as sim:
        client = Client(
            sim.url, timeout=2.0, heartbeat_timeout=heartbeat_timeout,
            reconnect_delays=fast_backoff,
        )  # fmt: skip
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.faults.silence()
            silenced = time.monotonic()
            sim.advance(150)  # the pushes go nowhere: the socket is open but mute
            await read_until(stream, got, lambda: len(got.reconnects) == 1)
            detected = time.monotonic() - silenced
            sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert "heartbeat" in got.reconnects[0].reason
    assert heartbeat_timeout <= detected < heartbeat_timeout + WAIT / 2
    assert sim.stats.connections == 2
    figures.record(
        "server silent (no heartbeat, no data) on an open socket",
        heartbeat_timeout_s=heartbeat_timeout, detected_after_s=round(detected, 2),
        reconnects=client.reconnects, bars_compared=compared,
    )  # fmt: skip


@pytest.mark.parametrize("reason", ["internal server error", "max sessions rate reached"])
async def test_protocol_error_closes_and_the_client_comes_back(
    reason: str, figures: Figures
) -> None:
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.advance(30)
            assert sim.faults.protocol_error(reason) == 1
            sim.advance(120)
            await read_until(stream, got, lambda: len(got.reconnects) == 1)
            sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    assert reason in got.reconnects[0].reason
    assert sim.stats.connections == 2
    figures.record(
        f"protocol_error {reason!r}, then the server closes",
        reconnects=client.reconnects, bars_compared=compared,
    )  # fmt: skip


async def test_critical_error_kills_one_session_while_the_others_stream(figures: Figures) -> None:
    victim, others = SYMBOLS[1], [SYMBOLS[0], SYMBOLS[2]]
    with running() as sim, Proxy(sim.url) as proxy:
        client = Client(proxy.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=N_BARS) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.faults.critical_error(proxy.session_of(victim), "invalid parameters")
            sim.advance(180)
            await read_until(stream, got, lambda: bool(got.failed) and got.caught_up(sim, others))
            assert stream.symbols == others
        del first[victim]
        compared = check_against_market(sim, got, first)
    (failure,) = got.failed
    assert failure.symbol == victim and isinstance(failure.error, CriticalError)
    assert "invalid parameters" in str(failure.error)
    assert client.reconnects == 0 and proxy.connections == 1
    figures.record(
        "critical_error on one of three chart sessions",
        failed_symbols=len(got.failed), others_bars_compared=compared, reconnects=0,
    )  # fmt: skip


def test_market_helper_sees_the_bars_the_simulator_sends(sim: SimHandle) -> None:
    # The expectation helper itself: a history read straight from the simulator agrees.
    import tvframe as tv
    from tests.faults.helpers import market_rows

    df = tv.history("NASDAQ:AAPL", "1m", 20)
    assert isinstance(df, pd.DataFrame)
    rows = market_rows(sim, "NASDAQ:AAPL", df.index[0].timestamp(), sim.clock.now() + 1)
    assert len(rows) == 20
    assert rows[:, 4].tolist() == df["close"].tolist()
