"""A live client against a raw misbehaving server: garbage, huge, binary, truncated and deeply
nested frames arrive just before a genuine reply. Each is either skipped (logged, counted, and
the call still returns the market's bars) or ends the call with a typed tvframe error; the event
loop never sees an unhandled error, keeps serving other clients, and memory stays bounded by
``max_message``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import tracemalloc
from collections.abc import Sequence

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed as WsClosed

from tests.faults.figures import Figures
from tests.faults.helpers import (
    Collected,
    Junk,
    Proxy,
    ScriptedServer,
    check_against_market,
    loop_errors,
    read_until,
    start_reading,
)
from tvframe import Client
from tvframe.errors import (
    ConnectionClosed,
    FramingError,
    ProtocolError,
    TvFrameError,
    TvTimeoutError,
)
from tvframe.protocol import encode_frame, encode_heartbeat
from tvframe.sim import Market, SimClock, SimConfig, SimStats, Simulator, running
from tvframe.sim.catalogue import find_symbol
from tvframe.sim.session import ClientSession

MAX = 256 * 1024  # the client's max_message; websockets then allows 4 * MAX bytes a frame
SYMBOL = "NASDAQ:AAPL"
N_BARS = 50
SKIP_LOG = "skipped a malformed server message"


def message(method: str, params: Sequence[object]) -> str:
    return encode_frame(orjson.dumps({"m": method, "p": list(params)}).decode())


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# Junk that is well framed but cannot be decoded: skipped, one log line and count each.
SKIPPED: dict[str, Junk] = {
    "not JSON": lambda cs: [encode_frame("{garbage")],
    "JSON array, not an object": lambda cs: [encode_frame("[1,2,3]")],
    "object without m and p": lambda cs: [encode_frame('{"x":1}')],
    "JSON nested 100 000 deep": lambda cs: [encode_frame("[" * 100_000)],
    "du params nested 1 000 deep": lambda cs: [
        encode_frame('{"m":"du","p":["' + cs + '",' + deep(1000) + "]}")
    ],
    "bars of strings for the client's session": lambda cs: [
        message("timescale_update", [cs, {"sds_1": {"s": [{"i": "x", "v": "y"}]}}, {}])
    ],
    "bars of 3 numbers": lambda cs: [
        message("du", [cs, {"sds_1": {"s": [{"i": 0, "v": [1, 2, 3]}]}}])
    ],
    "qsd without a body": lambda cs: [message("qsd", ["qs_x", None])],
    "several bad messages in one frame": lambda cs: [
        encode_frame("nope") + encode_frame("[]") + message("symbol_resolved", [cs, 1, 2])
    ],
    "a message dripped in 1 KiB frames": lambda cs: [
        chunk for text in [encode_frame("x" * (MAX - 20))]
        for chunk in (text[i : i + 1024] for i in range(0, len(text), 1024))
    ],
}  # fmt: skip

# Junk that breaks the stream: the call ends with the typed error.
FATAL: dict[str, tuple[Junk, type[TvFrameError], str]] = {
    "binary frame": (lambda cs: [b"\x00\x01binary"], ProtocolError, "binary"),
    "text not ~m~ framed": (lambda cs: ["hello there"], FramingError, "expected '~m~'"),
    "huge length prefix": (lambda cs: ["~m~99999999999~m~{"], FramingError, "length"),
    "length over max_message": (lambda cs: [f"~m~{MAX + 1}~m~x"], FramingError, "max_message"),
    "length not a number": (lambda cs: ["~m~1a~m~x"], FramingError, "not a number"),
    "malformed heartbeat": (lambda cs: ["~m~5~m~~h~x1"], FramingError, "heartbeat"),
    "frame over 4 x max_message bytes": (
        lambda cs: [encode_frame("x" * (4 * MAX + 1))], ConnectionClosed, "closed"
    ),
    "truncated message, then close": (
        lambda cs: [message("du", [cs, {}])[:12], 1000], ConnectionClosed, "1000"
    ),
    "truncated message, then the reply": (
        lambda cs: ['~m~60~m~{"m":"du","p":["'], FramingError, "expected '~m~'"
    ),
    "surrogate pair cut by the length": (
        lambda cs: [encode_frame("😀")[:3] + "1~m~😀"], FramingError, "surrogate"
    ),
}  # fmt: skip


def market_closes(server: ScriptedServer) -> list[float]:
    found = find_symbol(SYMBOL)
    assert found is not None
    now = server.clock.now()
    closes: list[float] = server.market.bars_before(
        found, "1", now + 1, N_BARS, now=now
    ).close.tolist()
    return closes


async def other_client_still_works() -> None:
    # The same event loop serves a fresh client and server after the failure.
    async with Simulator() as sim, Client(sim.url, timeout=5) as client:
        assert len((await client.history(SYMBOL, "1m", 5)).bars) == 5


async def run_case(junk: Junk) -> tuple[list[float], list[float] | TvFrameError, int]:
    """The history call against a server sending ``junk``: the market's closes, the closes
    received or the error, and the traced memory peak of the call (both ends)."""
    async with loop_errors() as reported, ScriptedServer(junk) as server:
        expected = market_closes(server)  # the market's caches fill now, outside the trace
        tracemalloc.start()
        try:
            async with Client(server.url, timeout=5, max_message=MAX) as client:
                result: list[float] | TvFrameError = (
                    await client.history(SYMBOL, "1m", N_BARS)
                ).bars.close.tolist()
        except TvFrameError as exc:
            result = exc
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        await other_client_still_works()
        gc.collect()  # a task that died unobserved is reported when collected
    assert not reported, reported
    assert server.junk_sent > 0
    return expected, result, peak


@pytest.mark.parametrize("name", list(SKIPPED))
async def test_undecodable_messages_are_skipped_and_counted(
    name: str, caplog: pytest.LogCaptureFixture, figures: Figures
) -> None:
    caplog.set_level(logging.WARNING, logger="tvframe.protocol.connection")
    expected, result, peak = await run_case(SKIPPED[name])
    skipped = sum(SKIP_LOG in r.getMessage() for r in caplog.records)
    assert not isinstance(result, TvFrameError), result
    assert result == expected
    assert skipped == (3 if name == "several bad messages in one frame" else 1)
    assert peak < 16 * MAX
    figures.record(
        f"hostile server: {name}", outcome="skipped", skipped=skipped, peak_bytes=peak,
        bars_compared=len(result),
    )  # fmt: skip


@pytest.mark.parametrize("name", list(FATAL))
async def test_broken_streams_end_the_call_with_a_typed_error(name: str, figures: Figures) -> None:
    junk, error, words = FATAL[name]
    _, result, peak = await run_case(junk)
    assert isinstance(result, error), repr(result)
    assert words in str(result)
    assert peak < 16 * MAX
    figures.record(f"hostile server: {name}", outcome=type(result).__name__, peak_bytes=peak)


async def test_a_frame_over_the_size_limit_is_named_in_the_error() -> None:
    _, result, _ = await run_case(lambda cs: [encode_frame("x" * (4 * MAX + 1))])
    assert isinstance(result, ConnectionClosed)
    assert "1009" in str(result) or "too big" in str(result)


async def test_heartbeats_only_end_in_a_timeout_not_a_hang(figures: Figures) -> None:
    # An expired token on TradingView: heartbeats keep coming, nothing else ever does.
    async def handler(ws: ServerConnection) -> None:
        session = ClientSession(SimConfig(), Market(), SimClock(), SimStats())
        # Read (and ignore) what the client sends, or its closing handshake would go unread.
        reader = asyncio.ensure_future(ws.wait_closed())
        drain = asyncio.ensure_future(_ignore(ws))
        with contextlib.suppress(WsClosed):
            await ws.send(session.hello())
            for number in range(1, 1000):
                await ws.send(encode_heartbeat(number))
                await asyncio.sleep(0.02)  # the server's pace: a heartbeat every 20 ms
        drain.cancel()
        await reader

    async with loop_errors() as reported, serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/socket.io/websocket"
        started = asyncio.get_running_loop().time()
        async with Client(url, timeout=0.5, heartbeat_timeout=0.2) as client:
            with pytest.raises(TvTimeoutError, match=r"0\.5"):
                await client.history(SYMBOL, "1m", 10)
        waited = asyncio.get_running_loop().time() - started
    assert not reported
    assert 0.5 <= waited < 3
    figures.record(
        "server sends heartbeats only (expired token)", outcome="TvTimeoutError",
        waited_s=round(waited, 2),
    )  # fmt: skip


async def _ignore(ws: ServerConnection) -> None:
    with contextlib.suppress(WsClosed):
        async for _ in ws:
            pass


async def test_a_stream_survives_junk_between_live_updates(figures: Figures) -> None:
    # Skippable junk in the middle of a live stream: bars keep coming, none lost.
    pushes = 3
    with running() as sim, Proxy(sim.url) as proxy:
        client = Client(proxy.url, timeout=5, max_message=MAX)
        got = Collected()
        async with client, client.stream(SYMBOL, "1m", n_bars=3) as stream:
            first = await start_reading(stream, got, [SYMBOL])
            for _ in range(pushes):
                assert proxy.inject(encode_frame("{junk") + encode_frame("[" * 5000)) == 1
                sim.advance(60)
            await read_until(stream, got, lambda: got.caught_up(sim, [SYMBOL]))
        compared = check_against_market(sim, got, first)
    assert compared == 2 + pushes
    figures.record(
        "junk between the live updates of a stream", junk_messages=2 * pushes,
        bars_compared=compared, reconnects=client.reconnects,
    )  # fmt: skip
