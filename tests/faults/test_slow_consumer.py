"""A consumer that stops reading while the market moves: the stated policy is that a forming
bar's undelivered update is replaced by the newer one, closed bars are never dropped, and so
what the queue holds (and the memory it takes) grows with closed bars only, not with pushes.
"""

from __future__ import annotations

import asyncio
import tracemalloc

import numpy as np
import pytest

from tests.faults.figures import Figures
from tests.faults.helpers import (
    Collected,
    check_against_market,
    fast_backoff,
    market_rows,
    read_until,
    start_reading,
    update_rows,
)
from tvframe import Client
from tvframe.events import BarUpdate
from tvframe.liveframe import alive
from tvframe.sim import SimHandle, running

SYMBOLS = ["BINANCE:BTCUSDT", "NASDAQ:AAPL", "FX:EURUSD"]
MINUTES = 6
# A push every two simulated seconds: 30 forming updates per bar and symbol.
STEP = 2.0
# What one undelivered closed bar may cost in the queue (a BarUpdate, its Bar, a slot), bytes.
PER_CLOSED_BAR = 1024
STREAM_FILES = ["*/tvframe/stream.py", "*/tvframe/events.py", "*/tvframe/liveupdates.py"]


def pushes(sim: SimHandle, count: int, drop_at: int | None = None) -> None:
    """``count`` one-second pushes, from a worker thread so that the client's loop runs."""
    for k in range(count):
        if k == drop_at:
            sim.faults.drop()
        sim.advance(STEP)


def queue_bytes() -> int:
    """Memory held by objects the stream and the update queues allocated."""
    snapshot = tracemalloc.take_snapshot()
    traces = snapshot.filter_traces([tracemalloc.Filter(True, f) for f in STREAM_FILES])
    return sum(stat.size for stat in traces.statistics("filename"))


@pytest.mark.parametrize("drop", [False, True], ids=["steady", "with-a-drop"])
async def test_unread_stream_holds_closed_bars_and_one_forming_update(
    drop: bool, figures: Figures
) -> None:
    count = int(MINUTES * 60 / STEP)
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=3) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            idle_backlog = stream.backlog
            closed_before = sum(map(len, got.closed.values()))
            tracemalloc.start()
            try:
                before = queue_bytes()
                await asyncio.to_thread(pushes, sim, count, count // 2 if drop else None)
                # A reply on the same socket comes after every push: the reader has them all.
                await client.history(SYMBOLS[0], "1m", 1)
                after = queue_bytes()
            finally:
                tracemalloc.stop()
            backlog = stream.backlog
            events_before = got.events
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
            read = got.events - events_before
        compared = check_against_market(sim, got, first)
    closed = sum(map(len, got.closed.values())) - closed_before
    forming_updates = count * len(SYMBOLS)
    # Each closed bar may leave its last undelivered forming update queued before it.
    assert backlog <= idle_backlog + 2 * closed + len(SYMBOLS) + int(drop)
    assert read <= 2 * closed + 2 * len(SYMBOLS) + int(drop)
    assert after - before <= PER_CLOSED_BAR * (closed + len(SYMBOLS))
    assert read < forming_updates / 10
    figures.record(
        f"consumer stops reading for {MINUTES} simulated min, a push every {STEP:g} s"
        + (", a drop half-way" if drop else ""),
        pushes=count, forming_updates_sent=forming_updates, events_queued=backlog,
        events_read=read, queue_bytes_before=before, queue_bytes_after=after,
        bars_compared=compared, reconnects=client.reconnects,
    )  # fmt: skip


async def test_liveframe_updates_reader_that_sleeps_loses_no_closed_bar(
    sim: SimHandle, figures: Figures
) -> None:
    count = int(MINUTES * 60 / STEP)
    symbols = SYMBOLS[:2]
    async with await alive(symbols, "1m", 5) as lf:
        updates = lf.updates()
        start = sim.clock.now()
        await asyncio.to_thread(pushes, sim, count)
        await lf.await_bars(MINUTES, timeout=10)
        backlog = updates.backlog
        got: list[BarUpdate] = []
        while updates.backlog:
            update = await asyncio.wait_for(updates.__anext__(), 10)
            assert isinstance(update, BarUpdate)
            got.append(update)
        frame = lf.to_pandas()
    closed = [u for u in got if u.closed]
    assert backlog == len(got) <= 2 * len(closed) + len(symbols)
    for symbol in symbols:
        mine = [u for u in closed if u.symbol == symbol]
        expected = market_rows(sim, symbol, start - 60, mine[-1].bar.time + 1)
        np.testing.assert_array_equal(update_rows(mine), expected[-len(mine) :])
        assert len(mine) == MINUTES
        rows = frame.loc[symbol]
        assert rows.index.is_unique and rows.index.is_monotonic_increasing
    figures.record(
        f"LiveFrame.updates() reader asleep for {MINUTES} simulated min",
        forming_updates_sent=count * len(symbols), updates_queued=backlog,
        closed_bars=len(closed),
    )  # fmt: skip
