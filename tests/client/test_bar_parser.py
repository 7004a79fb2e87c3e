"""Big history answers are parsed on the client's worker thread, in batches, with the same
bars as ever; a failing worker falls back to JSON; the thread is joined at close."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from tvframe import Client, barparser, client
from tvframe.barparser import BarParser
from tvframe.errors import TvFrameError
from tvframe.protocol import Connection, barscan
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import find_symbol

SYMBOLS = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:IBM", "BINANCE:BTCUSDT"]


def parse_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tvframe-parse"]


def expected(sim: SimHandle, symbol: str, n: int) -> np.ndarray:
    bars = sim.market.bars_before(
        find_symbol(symbol), "1", sim.clock.now() + 1e9, n, now=sim.clock.now()
    )
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def rows(hist: Any) -> np.ndarray:
    b = hist.bars
    return np.column_stack([b.time, b.open, b.high, b.low, b.close, b.volume])


class Recorder:
    """parse_texts as it is, noting the thread and size of each batch."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, int]] = []

    def __call__(self, texts: Sequence[barscan.BarText]) -> list[Any]:
        self.batches.append((threading.current_thread().name, len(texts)))
        return barscan.parse_texts(texts)


async def test_big_answers_are_parsed_on_the_worker_and_the_thread_ends_at_close(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(barparser, "parse_texts", recorder)
    before = parse_threads()
    async with Client(sim.url) as c:
        histories = await asyncio.gather(*(c.history(s, "1m", 5000) for s in SYMBOLS))
        assert len(parse_threads()) == len(before) + 1
    assert parse_threads() == before  # joined by close()
    for symbol, hist in zip(SYMBOLS, histories, strict=True):
        np.testing.assert_array_equal(rows(hist), expected(sim, symbol, 5000))
    assert {name for name, _ in recorder.batches} == {"tvframe-parse"}
    assert sum(size for _, size in recorder.batches) == len(SYMBOLS)


async def test_a_failing_worker_falls_back_to_json(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(texts: Sequence[barscan.BarText]) -> list[Any]:
        raise MemoryError("no room for the columns")

    monkeypatch.setattr(barparser, "parse_texts", broken)
    with caplog.at_level(logging.WARNING, logger="tvframe.client"):
        async with Client(sim.url) as c:
            hist = await c.history("NASDAQ:AAPL", "1m", 5000)
    np.testing.assert_array_equal(rows(hist), expected(sim, "NASDAQ:AAPL", 5000))
    assert "decoding as JSON" in caplog.text and "no room for the columns" in caplog.text


async def test_the_reader_waits_for_parses_when_too_many_are_pending(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "_MAX_PARSING", 1)
    async with Client(sim.url) as c:
        histories = await asyncio.gather(*(c.history(s, "1m", 3000) for s in SYMBOLS))
    for symbol, hist in zip(SYMBOLS, histories, strict=True):
        np.testing.assert_array_equal(rows(hist), expected(sim, symbol, 3000))


async def test_the_parser_settles_every_future_of_a_batch_and_joins() -> None:
    before = parse_threads()
    parser = BarParser(asyncio.get_running_loop())
    texts = [
        barscan.BarText(0, 0, b",0,60.0,1,2,0.5,1.5,10\n", 6, 1),
        barscan.BarText(0, 0, b",x,60.0,1,2,0.5,1.5,10\n", 6, 1),  # not a number
        barscan.BarText(0, 0, b",7,120.0,1,2,0.5,2.5\n", 5, 1),
    ]
    results = await asyncio.gather(*(parser.parse(t) for t in texts))
    parser.close()
    assert parse_threads() == before
    assert results[1] is None
    assert [r[5].tolist() for r in (results[0], results[2]) if r is not None] == [[1.5], [2.5]]
    parser.close()  # twice is fine


@pytest.mark.parametrize("where", ["receive", "resolve"])
async def test_a_bug_while_reading_fails_the_call_at_once_instead_of_hanging(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    original = getattr(Connection, where)

    def broken(self: Connection, *args: Any) -> Any:
        if where == "resolve" or "timescale_update" in args[0]:
            raise ValueError("a bug")
        return original(self, *args)

    monkeypatch.setattr(Connection, where, broken)
    async with Client(sim.url, timeout=60, reconnect=False) as c:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TvFrameError, match=r"ValueError\('a bug'\).*bug of tvframe's"):
            await c.history("NASDAQ:AAPL", "1m", 5000)
        assert asyncio.get_running_loop().time() - started < 30  # not the call's timeout
