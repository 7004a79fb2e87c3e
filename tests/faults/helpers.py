"""Tools of the reliability suite: what the market says, what the consumer got, and two servers
that misbehave in ways the simulator's fault switchboard cannot (a frame cut in half, garbage).

Every comparison is against the simulator's own market (``sim.market.bars_between``), never
against what the client reports about itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tvframe.client import backoff
from tvframe.events import BarUpdate, Reconnected, StreamEvent, SymbolFailed
from tvframe.protocol import FrameDecoder
from tvframe.sim import Market, SimClock, SimConfig, SimHandle, SimStats
from tvframe.sim.catalogue import find_symbol
from tvframe.sim.session import ClientSession
from tvframe.stream import Stream

__all__ = [
    "WAIT",
    "Collected",
    "Junk",
    "Proxy",
    "ScriptedServer",
    "check_against_market",
    "fast_backoff",
    "latest_two",
    "loop_errors",
    "market_rows",
    "read_until",
    "start_reading",
    "update_rows",
]

Rows = npt.NDArray[np.float64]
#: Seconds any single wait of a test may take before it counts as a hang.
WAIT = 10.0


def fast_backoff() -> Iterator[float]:
    """Reconnect delays short enough for tests, still exponential and capped."""
    return backoff(0.01, 2.0, 0.1, jitter=0.0)


# --- what the market says and what the consumer got ----------------------------------------


def market_rows(sim: SimHandle, symbol: str, start: float, end: float) -> Rows:
    """The simulator's 1-minute bars opening in ``[start, end)``, as the market has them now."""
    found = find_symbol(symbol)
    assert found is not None, symbol
    bars = sim.market.bars_between(found, "1", start, end, now=sim.clock.now())
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def latest_two(sim: SimHandle, symbol: str) -> Rows:
    """The market's last closed bar and its forming bar (or its last bar, market closed)."""
    found = find_symbol(symbol)
    assert found is not None, symbol
    now = sim.clock.now()
    bars = sim.market.bars_before(found, "1", now + 1.0, 2, now=now)
    return np.column_stack([bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume])


def update_rows(updates: Sequence[BarUpdate]) -> Rows:
    """``[time, open, high, low, close, volume]`` of each update."""
    return np.array(
        [[u.bar.time, u.bar.open, u.bar.high, u.bar.low, u.bar.close, u.bar.volume]
         for u in updates],
        dtype=np.float64,
    ).reshape(-1, 6)  # fmt: skip


@dataclass
class Collected:
    """Everything a consumer took out of a stream, sorted by kind."""

    closed: dict[str, list[BarUpdate]] = field(default_factory=lambda: defaultdict(list))
    forming: dict[str, BarUpdate] = field(default_factory=dict)
    reconnects: list[Reconnected] = field(default_factory=list)
    failed: list[SymbolFailed] = field(default_factory=list)
    events: int = 0
    # The market's last two bars per (symbol, clock time): they change only when time moves.
    _latest: dict[tuple[str, float], Rows] = field(default_factory=dict, repr=False)

    def latest(self, sim: SimHandle, symbol: str) -> Rows:
        """:func:`latest_two` of ``symbol`` at the simulator's current time, memoized."""
        key = (symbol, sim.clock.now())
        if key not in self._latest:
            self._latest[key] = latest_two(sim, symbol)
        return self._latest[key]

    def add(self, event: StreamEvent) -> None:
        """File one event."""
        self.events += 1
        if isinstance(event, BarUpdate):
            if event.closed:
                self.closed[event.symbol].append(event)
            else:
                self.forming[event.symbol] = event
        elif isinstance(event, Reconnected):
            self.reconnects.append(event)
        elif isinstance(event, SymbolFailed):
            self.failed.append(event)

    def reconnected(self, count: int) -> Callable[[], bool]:
        """A condition: ``count`` reconnects were read."""
        return lambda: len(self.reconnects) >= count

    def formed(self, sim: SimHandle, symbols: Sequence[str]) -> bool:
        """Every symbol's forming bar is the market's latest bar, in its latest state (closed
        bars are queued before the forming update that follows them)."""
        for symbol in symbols:
            forming = self.forming.get(symbol)
            latest = self.latest(sim, symbol)[-1]
            if forming is None or not np.array_equal(
                update_rows([forming])[0], latest, equal_nan=True
            ):
                return False
        return True

    def caught_up(self, sim: SimHandle, symbols: Sequence[str]) -> bool:
        """:meth:`formed`, and every symbol's last closed bar is the market's last closed bar."""
        for symbol in symbols:
            closed = self.closed.get(symbol)
            if not closed or closed[-1].bar.time < self.latest(sim, symbol)[0, 0]:
                return False
        return self.formed(sim, symbols)


async def read_until(stream: Stream, got: Collected, done: Callable[[], bool]) -> None:
    """Consume ``stream`` into ``got`` until ``done()``; a wait longer than :data:`WAIT` fails."""
    while not done():
        got.add(await asyncio.wait_for(stream.__anext__(), WAIT))


async def start_reading(stream: Stream, got: Collected, symbols: Sequence[str]) -> dict[str, float]:
    """Read every symbol's initial load; return the open time of each one's first bar."""
    await read_until(stream, got, lambda: set(got.forming) >= set(symbols))
    return {s: (got.closed[s] or [got.forming[s]])[0].bar.time for s in symbols}


def check_against_market(sim: SimHandle, got: Collected, first: dict[str, float]) -> int:
    """Assert each symbol's closed bars are exactly the market's, from ``first[symbol]`` to its
    last closed bar: none lost, none twice, in order, final values; return the bars compared."""
    compared = 0
    for symbol, start in first.items():
        events = got.closed[symbol]
        times = [e.bar.time for e in events]
        assert times == sorted(set(times)), f"{symbol}: duplicate or out-of-order closed bars"
        last_closed = latest_two(sim, symbol)[0, 0]
        expected = market_rows(sim, symbol, start, last_closed + 1.0)
        np.testing.assert_array_equal(update_rows(events), expected, err_msg=symbol)
        assert [e.index for e in events] == list(range(len(events))), f"{symbol}: index gap"
        compared += len(events)
    return compared


# --- a relay that cuts frames --------------------------------------------------------------


class _Thread:
    """An event loop on a daemon thread, for servers that must not share the test's loop
    (tests block it with the simulator's synchronous calls)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        self.loop.close()


class Proxy:
    """A WebSocket relay from clients to the simulator that can cut a server frame in half,
    hold the server's frames back, or slip in frames of its own; it records what clients
    send and how each client closed.

    Use it as a context manager; its controls may be called from any thread.
    """

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._thread = _Thread("tvframe-test-proxy")
        self._cut_at: int | None = None  # the server frame (counted from 1) to cut
        self._hold_from: int | None = None  # the first server frame held back
        self.server_frames = 0
        self.cuts = 0
        self.connections = 0
        #: Close code each client connection ended with (1006: no close frame from the client).
        self.closes: list[int | None] = []
        #: Client methods seen, over every connection.
        self.methods: Counter[str] = Counter()
        #: Each client call, in order: (method, params).
        self.calls: list[tuple[str, list[Any]]] = []
        # Notified when a client connection ends or sends a call.
        self._changed = threading.Condition()
        self._clients: set[ServerConnection] = set()
        self._server = self._thread.call(self._serve())
        self._port: int = self._server.sockets[0].getsockname()[1]

    async def _serve(self) -> Any:
        return await serve(
            self._relay, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None
        )

    @property
    def url(self) -> str:
        """The URL clients dial instead of the simulator's."""
        return f"ws://127.0.0.1:{self._port}/socket.io/websocket"

    def cut_frame(self, number: int) -> None:
        """Forward only the first half of the ``number``-th server frame from now (counted
        over every connection), then drop the client's socket without a close frame."""
        self._cut_at = self.server_frames + number

    def hold_after(self, frames: int) -> None:
        """Forward the next ``frames`` server frames, then hold every later one back."""
        self._hold_from = self.server_frames + frames + 1

    def wait_method(self, method: str, count: int = 1) -> None:
        """Block until clients have sent ``method`` ``count`` times in all."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.methods[method] >= count, WAIT):
                raise TimeoutError(f"{method} seen {self.methods[method]} of {count} times")

    def session_of(self, symbol: str) -> str:
        """The chart session the client last opened for ``symbol`` (from its resolve_symbol)."""
        for method, params in reversed(self.calls):
            if method == "resolve_symbol" and f'"symbol":"{symbol}"' in params[2]:
                return str(params[0])
        raise LookupError(f"no resolve_symbol of {symbol} went through the proxy")

    def wait_closes(self, count: int) -> list[int | None]:
        """Block until ``count`` client connections have ended; return their close codes."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.closes) >= count, WAIT):
                raise TimeoutError(f"only {len(self.closes)} of {count} connections ended")
        return list(self.closes)

    def inject(self, text: str) -> int:
        """Send ``text`` as one extra server frame to every client now; returns how many."""

        async def send() -> int:
            clients = list(self._clients)
            for client in clients:
                await client.send(text)
            return len(clients)

        sent: int = self._thread.call(send())
        return sent

    async def _relay(self, client: ServerConnection) -> None:
        self.connections += 1
        self._clients.add(client)
        try:
            async with connect(
                self._upstream, compression=None, max_size=None, ping_interval=None
            ) as server:
                pumps = [
                    asyncio.ensure_future(self._up(client, server)),
                    asyncio.ensure_future(self._down(server, client)),
                ]
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._clients.discard(client)
            await client.wait_closed()
            with self._changed:
                self.closes.append(client.close_code)
                self._changed.notify_all()

    async def _up(self, client: ServerConnection, server: Any) -> None:
        decoder = FrameDecoder()
        with contextlib.suppress(ConnectionClosed):
            async for frame in client:
                if isinstance(frame, str):
                    for item in decoder.feed(frame):
                        if isinstance(item, str):
                            call = orjson.loads(item)
                            with self._changed:
                                self.methods[call["m"]] += 1
                                self.calls.append((call["m"], call["p"]))
                                self._changed.notify_all()
                await server.send(frame)
        await server.close()

    async def _down(self, server: Any, client: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in server:
                self.server_frames += 1
                if self._hold_from is not None and self.server_frames >= self._hold_from:
                    continue
                if self.server_frames == self._cut_at:
                    self.cuts += 1
                    await client.send(frame[: len(frame) // 2])
                    client.transport.abort()
                    return
                await client.send(frame)
        await client.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            self._thread.call(self._server.wait_closed())
        self._thread.stop()


# --- a scripted hostile server -------------------------------------------------------------


#: What a scripted server sends before its reply: WebSocket messages, given the chart
#: session the client opened; an ``int`` in the list closes the socket with that code.
Junk = Callable[[str], Sequence[str | bytes | int]]


class ScriptedServer:
    """The simulator's protocol (``ClientSession``) on a bare websockets server, sending
    ``junk(session)`` just before its reply to the client's first ``create_series``.

    It runs on the caller's loop: ``async with ScriptedServer(junk) as server``.
    """

    def __init__(self, junk: Junk) -> None:
        self.junk = junk
        self.config = SimConfig()
        self.market = Market(seed=self.config.seed)
        self.clock = SimClock()
        self.stats = SimStats()
        self.junk_sent = 0
        self._server: Any = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/socket.io/websocket"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        session = ClientSession(self.config, self.market, self.clock, self.stats)
        decoder = FrameDecoder()
        with contextlib.suppress(ConnectionClosed):
            await ws.send(session.hello())
            async for frame in ws:
                payloads = [p for p in decoder.feed(str(frame)) if isinstance(p, str)]
                series = [orjson.loads(p)["p"] for p in payloads if '"create_series"' in p]
                if series and not self.junk_sent:
                    for junk in self.junk(series[0][0]):
                        self.junk_sent += 1
                        if isinstance(junk, int):
                            await ws.close(junk)
                            return
                        await ws.send(junk)
                replies = session.receive(payloads)
                if replies:
                    await ws.send("".join(replies))


@contextlib.asynccontextmanager
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Collect what the running loop reports as unhandled (a task that died with an error)."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        yield reported
    finally:
        loop.set_exception_handler(previous)
