"""LiveUpdates on its own: what a slow reader of bars and of quotes gets, and when it ends."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import TypeVar

import pytest

from tvframe.errors import InvalidArgumentError, TvFrameError
from tvframe.events import Bar, BarUpdate, QuoteUpdate
from tvframe.liveupdates import BAR_COALESCING, QUOTE_COALESCING, LiveUpdates


def bar(symbol: str, t: float, close: float, closed: bool) -> BarUpdate:
    return BarUpdate(symbol, "1m", int(t // 60), Bar(t, 1.0, 9.0, 0.5, close, 1.0), closed)


def quote(symbol: str, lp: float, *changed: str) -> QuoteUpdate:
    return QuoteUpdate(symbol, MappingProxyType({"lp": lp, "volume": 10.0}), frozenset(changed))


U = TypeVar("U", BarUpdate, QuoteUpdate)


async def drain(updates: LiveUpdates[U]) -> list[U]:
    """What is queued, once the feed ended."""
    updates._end(None)
    return [u async for u in updates]


async def test_bars_keep_every_close_and_only_the_newest_forming_state() -> None:
    updates = LiveUpdates(BAR_COALESCING)
    for item in [
        bar("A", 0, 1.0, False), bar("B", 0, 5.0, False), bar("A", 0, 2.0, False),
        bar("A", 0, 3.0, True),  # closes the unread forming bar: takes its place
        bar("A", 60, 4.0, False), bar("A", 60, 4.5, False),
        bar("A", 120, 6.0, True),  # another bar closed: queued behind the forming one
        bar("A", 180, 7.0, False),
    ]:  # fmt: skip
        updates._put(item)
    got = await drain(updates)
    assert got == [
        bar("A", 0, 3.0, True), bar("B", 0, 5.0, False), bar("A", 60, 4.5, False),
        bar("A", 120, 6.0, True), bar("A", 180, 7.0, False),
    ]  # fmt: skip


async def test_quotes_fold_per_symbol_and_name_every_changed_field() -> None:
    updates = LiveUpdates(QUOTE_COALESCING)
    updates._put(quote("A", 1.0, "lp"))
    updates._put(quote("B", 7.0, "lp"))
    updates._put(quote("A", 2.0, "lp", "volume"))
    updates._put(quote("A", 3.0, "bid"))
    assert updates.backlog == 2
    first = await updates.__anext__()
    assert first == QuoteUpdate("A", first.quote, frozenset({"lp", "volume", "bid"}))
    assert first.quote["lp"] == 3.0
    updates._put(quote("A", 4.0, "lp"))  # read already: a new update queues behind B
    assert [(u.symbol, u.quote["lp"]) for u in await drain(updates)] == [("B", 7.0), ("A", 4.0)]


async def test_a_reader_too_far_behind_is_ended_not_the_feed() -> None:
    updates = LiveUpdates(BAR_COALESCING, max_backlog=2)
    for t in (0, 60, 120):
        updates._put(bar("A", t, 1.0, True))
    assert updates.closed
    got = []
    with pytest.raises(TvFrameError, match="fell 2 updates behind"):
        async for update in updates:
            got.append(update)
    assert [u.bar.time for u in got] == [0, 60]


async def test_a_waiting_reader_is_woken_from_another_thread() -> None:
    updates = LiveUpdates(QUOTE_COALESCING)
    reading = asyncio.ensure_future(updates.__anext__())
    await asyncio.sleep(0)  # a yield, not a wait: the reader runs until it parks
    assert updates._waiter is not None and not reading.done()
    await asyncio.to_thread(updates._put, quote("A", 1.0, "lp"))
    assert (await asyncio.wait_for(reading, 5)).quote["lp"] == 1.0
    updates.close()
    updates._put(quote("A", 2.0, "lp"))  # after close(): dropped
    with pytest.raises(StopAsyncIteration):
        await updates.__anext__()


@pytest.mark.parametrize("max_backlog", [0, -1, True, 1.5])
def test_max_backlog_must_be_a_positive_integer(max_backlog: int) -> None:
    with pytest.raises(InvalidArgumentError, match="max_backlog"):
        LiveUpdates(QUOTE_COALESCING, max_backlog)
