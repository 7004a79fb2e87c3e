"""Politeness: an even request rate, validated limits, backoff on refused handshakes."""

from __future__ import annotations

import asyncio

import pytest

from tvframe.dataset.polite import Endpoint, Link, Politeness, RateLimiter
from tvframe.errors import InvalidArgumentError, RateLimitError
from tvframe.sim import SimHandle


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_requests_are_spaced_evenly_at_the_rate() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, fake.clock, fake.sleep)
    starts = []
    for _ in range(5):
        await limiter.wait()
        starts.append(fake.now)
    assert starts == [0.0, 0.25, 0.5, 0.75, 1.0]
    fake.now = 10.0  # idle for a while: no burst is saved up beyond one request
    await limiter.wait()
    await limiter.wait()
    assert fake.slept[-1] == 0.25 and fake.now == 10.25


async def test_no_rate_means_no_waiting() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    await asyncio.gather(*(limiter.wait() for _ in range(100)))
    assert fake.slept == []


@pytest.mark.parametrize(
    "bad",
    [{"concurrency": 0}, {"connections": 0}, {"rate": 0.0}, {"retries": -1}, {"backoff": -1.0}],
)
def test_limits_are_validated(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        Politeness(**bad)  # type: ignore[arg-type]


def test_a_share_splits_the_rate_between_connections() -> None:
    share = Politeness(rate=12.0, connections=3).share(3)
    assert (share.rate, share.connections) == (4.0, 1)
    assert Politeness(rate=None).share(3).rate is None


async def test_a_refused_handshake_is_retried_after_a_backoff(sim: SimHandle) -> None:
    endpoint = Endpoint(sim.url, None, 5.0)
    sim.faults.refuse(2)
    link = Link(endpoint, Politeness(retries=2, backoff=0.01))
    client = await link.client()
    assert client.is_open and sim.stats.handshakes_refused == 2
    await link.close()
    sim.faults.refuse(3)
    with pytest.raises(RateLimitError, match="429"):
        await Link(endpoint, Politeness(retries=2, backoff=0.01)).client()
