"""Refused handshakes (HTTP 429, 503) for a while: the client backs off as its delays say,
dials once per delay (no reconnect storm: every attempt is counted), and gives up with a typed
error after ``max_reconnect_attempts``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tvframe as tv
from tests.faults.figures import Figures
from tests.faults.helpers import Collected, check_against_market, read_until, start_reading
from tvframe import Client
from tvframe.client import backoff
from tvframe.errors import RateLimitError
from tvframe.sim import running

SYMBOLS = ["BINANCE:BTCUSDT", "FX:EURUSD"]


class Delays:
    """A reconnect delay factory that remembers every delay the client asked for."""

    def __init__(self, initial: float = 0.02, maximum: float = 0.16) -> None:
        self.initial = initial
        self.maximum = maximum
        self.given: list[float] = []

    def __call__(self) -> Iterator[float]:
        for delay in backoff(self.initial, 2.0, self.maximum, jitter=0.0):
            self.given.append(delay)
            yield delay


@pytest.mark.parametrize("status", [429, 503])
async def test_refusals_for_a_while_are_outwaited_one_dial_per_delay(
    status: int, figures: Figures
) -> None:
    refusals = 4
    delays = Delays()
    with running() as sim:
        client = Client(sim.url, reconnect_delays=delays)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=3) as stream:
            first = await start_reading(stream, got, SYMBOLS)
            sim.faults.refuse(refusals, status)
            dropped = time.monotonic()
            sim.faults.drop()
            sim.advance(120)
            await read_until(stream, got, lambda: len(got.reconnects) == 1)
            elapsed = time.monotonic() - dropped
            sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, SYMBOLS))
        compared = check_against_market(sim, got, first)
    attempts = refusals + 1
    assert sim.stats.handshakes_refused == refusals
    assert sim.stats.connections == 2  # the first socket, then the one accepted dial
    assert len(delays.given) == attempts  # one delay per dial, none skipped
    assert delays.given == [0.02, 0.04, 0.08, 0.16, 0.16]
    assert elapsed >= sum(delays.given)
    assert got.reconnects[0].attempt == attempts
    figures.record(
        f"HTTP {status} on the next {refusals} handshakes after a drop",
        dials=attempts, refused=sim.stats.handshakes_refused,
        waited_s=round(elapsed, 3), backoff_sum_s=round(sum(delays.given), 3),
        bars_compared=compared,
    )  # fmt: skip


async def test_refused_forever_gives_up_after_max_attempts(figures: Figures) -> None:
    max_attempts = 5
    delays = Delays(0.005, 0.02)
    with running() as sim:
        client = Client(sim.url, reconnect_delays=delays, max_reconnect_attempts=max_attempts)
        got = Collected()
        async with client, client.stream(SYMBOLS, "1m", n_bars=3) as stream:
            await start_reading(stream, got, SYMBOLS)
            sim.faults.refuse(1000)
            sim.faults.drop()
            with pytest.raises(RateLimitError, match="429"):
                await read_until(stream, got, lambda: False)
            assert not client.is_open
        refused = sim.stats.handshakes_refused
    assert refused == max_attempts and len(delays.given) == max_attempts
    assert sim.stats.connections == 1
    figures.record(
        "HTTP 429 on every handshake after a drop",
        max_reconnect_attempts=max_attempts, dials=refused, error="RateLimitError",
    )  # fmt: skip


def test_a_refused_first_handshake_is_redialed_within_the_timeout_then_a_typed_error(
    figures: Figures,
) -> None:
    # backoff(): a first delay of 0.5 s (+-20 %) fits in 1 s, the second (1 s +-20 %) does not.
    with running() as sim:
        sim.faults.refuse(1000)
        with pytest.raises(RateLimitError, match=r"HTTP 429.*after 2 attempts"):
            tv.history("NASDAQ:AAPL", "1m", 10, timeout=1.0)
        assert sim.stats.handshakes_refused == 2 and sim.stats.connections == 0
    figures.record(
        "HTTP 429 on every first handshake of tv.history (timeout 1 s)", dials=2,
        error="RateLimitError",
    )  # fmt: skip


def test_history_backs_off_a_transient_429() -> None:
    with running() as sim:
        sim.faults.refuse(1)
        assert len(tv.history("NASDAQ:AAPL", "1m", 10)) == 10
        assert sim.stats.handshakes_refused == 1 and sim.stats.connections == 1


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    initial=st.floats(0.001, 10.0),
    factor=st.floats(1.0, 4.0),
    maximum=st.floats(0.001, 60.0),
    jitter=st.floats(0.0, 1.0),
)
def test_backoff_is_exponential_capped_and_jittered_within_bounds(
    initial: float, factor: float, maximum: float, jitter: float
) -> None:
    delays = backoff(initial, factor, maximum, jitter)
    nominal = initial
    for _ in range(30):
        delay = next(delays)
        assert max(0.0, nominal * (1 - jitter)) - 1e-9 <= delay <= nominal * (1 + jitter) + 1e-9
        nominal = min(maximum, nominal * factor)
