"""Soak: many symbols streamed for a simulated day of 1-minute bars, the socket dropped every
few simulated minutes; zero lost bars, zero duplicated bars, flat memory.

Bounded and self-stopping: the clock is manual and moves in fixed steps. Size:

- ``test_soak_small`` (not marked): 5 symbols, 2 simulated hours — part of the normal suite;
- ``test_soak`` (marked ``soak``, opt-in with ``-m soak``): 50 symbols over
  ``TVFRAME_SOAK_SCALE`` simulated days (default 1; CI runs 0.25).

Received bars are checked against the market segment by segment and then forgotten, so the
test's own memory stays flat and any growth measured is the library's.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.faults.figures import Figures
from tests.faults.helpers import WAIT, fast_backoff, market_rows, update_rows
from tvframe import Client
from tvframe.events import BarUpdate, Reconnected, StreamEvent
from tvframe.sim import SimHandle, running
from tvframe.sim.catalogue import universe
from tvframe.stream import Stream

# Files whose allocations count as the library's (the simulator's are not measured).
LIBRARY = ["*/tvframe/*.py", "*/tvframe/protocol/*.py"]
SIMULATOR = "*/tvframe/sim/*"


@dataclass(frozen=True)
class Size:
    """How big a soak is: symbols, simulated minutes, clock step and drop period (minutes)."""

    symbols: int
    minutes: int
    step: int = 10
    drop_every: int = 20


def soak_symbols(count: int) -> list[str]:
    """24x7 and stock-hours symbols of the simulator's universe, mostly stocks (cheaper)."""
    names = [s.full_name for s in universe()]
    crypto, stocks = names[0::2], names[1::2]
    n_crypto = max(1, count // 6)
    return crypto[:n_crypto] + stocks[: count - n_crypto]


@dataclass
class Tracker:
    """Checks the stream against the market after every clock step, then forgets the bars.

    After a step the market says, per symbol, which bars closed since the last check and what
    the latest bar looks like; the stream is read until every symbol matches, then compared.
    """

    sim: SimHandle
    symbols: list[str]
    checked_to: dict[str, float] = field(default_factory=dict)  # open of the last checked bar
    next_index: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[BarUpdate]] = field(default_factory=dict)
    forming: dict[str, BarUpdate] = field(default_factory=dict)
    closed: dict[str, np.ndarray] = field(default_factory=dict)
    latest: dict[str, np.ndarray] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    compared: int = 0
    reconnects: int = 0

    def expect(self) -> None:
        """What the market has now since each symbol's last checked bar (one query each)."""
        end = self.sim.clock.now() + 1.0
        for symbol in self.symbols:
            start = self.checked_to.get(symbol, end - 10 * 86_400.0) + 1.0
            rows = market_rows(self.sim, symbol, start, end)
            if symbol not in self.checked_to:  # the initial load: one closed bar, one forming
                rows = rows[-2:]
            if len(rows):
                self.closed[symbol], self.latest[symbol] = rows[:-1], rows[-1]
            else:  # nothing new (market closed): the latest bar stays as it was
                self.closed[symbol] = rows
        self.waiting = {s for s in self.symbols if not self._done(s)}

    def add(self, event: StreamEvent) -> None:
        if isinstance(event, Reconnected):
            self.reconnects += 1
            return
        assert isinstance(event, BarUpdate), event
        if event.closed:
            self.pending.setdefault(event.symbol, []).append(event)
        else:
            self.forming[event.symbol] = event
        if event.symbol in self.waiting and self._done(event.symbol):
            self.waiting.discard(event.symbol)

    def _done(self, symbol: str) -> bool:
        forming = self.forming.get(symbol)
        return (
            forming is not None
            and len(self.pending.get(symbol, [])) >= len(self.closed[symbol])
            and np.array_equal(update_rows([forming])[0], self.latest[symbol], equal_nan=True)
        )

    def verify(self) -> None:
        """The closed bars since the last check are exactly the market's; then forget them."""
        for symbol in self.symbols:
            events = self.pending.pop(symbol, [])
            np.testing.assert_array_equal(update_rows(events), self.closed[symbol], err_msg=symbol)
            if not events:
                self.checked_to.setdefault(symbol, self.latest[symbol][0] - 1.0)
                continue
            index = self.next_index.get(symbol, events[0].index)
            assert [e.index for e in events] == list(range(index, index + len(events)))
            self.next_index[symbol] = index + len(events)
            self.checked_to[symbol] = events[-1].bar.time
            self.compared += len(events)


async def catch_up(stream: Stream, tracker: Tracker) -> None:
    deadline = time.monotonic() + WAIT
    tracker.expect()
    while tracker.waiting:
        assert time.monotonic() < deadline, f"stuck waiting for {sorted(tracker.waiting)[:3]}"
        tracker.add(await stream.__anext__())
    tracker.verify()


def library_bytes() -> int:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, f) for f in LIBRARY] + [tracemalloc.Filter(False, SIMULATOR)]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def soak(size: Size, figures: Figures) -> None:
    symbols = soak_symbols(size.symbols)
    steps = size.minutes // size.step
    # Memory is traced over two windows of about an eighth of the run each (tracing slows the
    # process down fourfold): an early one after warm-up, and the last one. What the library
    # allocated in a window and still holds at its end is its growth over that window.
    period = size.drop_every // size.step  # steps from one drop to the next
    # Whole periods, so that both windows hold as many drops.
    span = max(period, steps // 8 // period * period)
    windows = {2 * span: "early", steps: "late"}
    retained: dict[str, int] = {}
    with running() as sim:
        client = Client(sim.url, reconnect_delays=fast_backoff, timeout=WAIT)
        tracker = Tracker(sim, symbols)
        started = time.monotonic()
        async with client, client.stream(symbols, "1m", n_bars=2) as stream:
            await catch_up(stream, tracker)
            for k in range(1, steps + 1):
                if k - 1 + span in windows:
                    tracemalloc.start()
                if (k * size.step) % size.drop_every == 0:
                    sim.advance(size.step * 60 / 2)  # drop mid-step, mid-bar
                    sim.faults.drop()
                    sim.advance(size.step * 60 / 2)
                else:
                    sim.advance(size.step * 60)
                await catch_up(stream, tracker)
                if k in windows:
                    retained[windows[k]] = library_bytes()
                    tracemalloc.stop()
        elapsed = time.monotonic() - started
    drops = size.minutes // size.drop_every
    assert client.reconnects == drops and tracker.reconnects == drops
    assert sim.stats.drops == drops
    figures.record(
        f"soak: {len(symbols)} symbols, {size.minutes} simulated min of 1m bars, "
        f"a drop every {size.drop_every} min",
        drops=drops, reconnects=client.reconnects, bars_compared=tracker.compared,
        lost=0, duplicated=0, window_steps=span,
        retained_bytes_early_window=retained["early"],
        retained_bytes_last_window=retained["late"], wall_s=round(elapsed, 1),
    )  # fmt: skip
    # What a window keeps is what replaced older state (each reconnect re-resolves every
    # symbol) plus any growth. Both windows hold the same drops, so flat memory means the late
    # window keeps no more than the early one, and neither more than a few KiB per symbol.
    assert retained["late"] - retained["early"] < 64 * 1024, f"memory grew: {retained}"
    assert max(retained.values()) < (8 * len(symbols) + 64) * 1024, f"memory grew: {retained}"
    assert tracker.compared >= len(symbols) * steps


async def test_soak_small(figures: Figures) -> None:
    await soak(Size(symbols=5, minutes=120), figures)


@pytest.mark.soak
async def test_soak(request: pytest.FixtureRequest, figures: Figures) -> None:
    if "soak" not in (request.config.option.markexpr or ""):
        pytest.skip("opt-in: run with -m soak (size: TVFRAME_SOAK_SCALE, default 1 day)")
    scale = float(os.environ.get("TVFRAME_SOAK_SCALE", "1"))
    assert 0 < scale <= 10, f"TVFRAME_SOAK_SCALE={scale} must be in (0, 10]"
    await soak(Size(symbols=50, minutes=max(40, int(24 * 60 * scale) // 20 * 20)), figures)
