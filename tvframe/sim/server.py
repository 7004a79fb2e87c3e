"""The simulator's WebSocket server: TradingView's chart socket on loopback (``protocol.md`` §12).

Transport rules: path ``/socket.io/websocket`` with any query string and any Origin, no
permessage-deflate, text frames only, the hello first, heartbeats alone in their own frame,
replies to one client frame batched into one server frame. Plain HTTP GETs of the symbol
search paths (:mod:`tvframe.sim.search`) and of pine-facade's ``translate``
(:mod:`tvframe.sim.pine`) are answered on the same port. Protocol state lives in
:class:`~tvframe.sim.session.ClientSession`; this module only moves text and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tvframe.errors import FramingError
from tvframe.protocol.framing import FrameDecoder, Heartbeat, encode_heartbeat
from tvframe.sim.clock import SimClock
from tvframe.sim.config import SimConfig, SimStats
from tvframe.sim.faults import Faults, FaultState, Outlet, SyncFaults
from tvframe.sim.market import Market
from tvframe.sim.pine import answer as pine_answer
from tvframe.sim.search import HttpAnswer, answer
from tvframe.sim.session import ClientSession

__all__ = ["SimHandle", "Simulator", "running", "serve_forever", "start"]

logger = logging.getLogger(__name__)

PATH = "/socket.io/websocket"
_ENV_URL = "TVFRAME_URL"


class _Peer:
    """One accepted socket, its protocol state, and a lock so replies and pushes never mix."""

    def __init__(self, ws: ServerConnection, session: ClientSession, outlet: Outlet) -> None:
        self.ws = ws
        self.session = session
        self.outlet = outlet
        self.lock = asyncio.Lock()

    async def send(self, messages: list[str]) -> None:
        """Write ``messages`` as one frame; close the socket if a protocol_error asked for it."""
        await self.outlet.send(messages)
        if self.session.closing:
            await self.ws.close()

    def end_session(self, session_id: str, reason: str, info: str) -> list[str] | None:
        """``critical_error`` for one of this socket's sessions (see :class:`Link`)."""
        return self.session.end_session(session_id, reason, info)


class Simulator:
    """A protocol-faithful TradingView chart WebSocket on loopback.

    Args:
        config: Settings (:class:`SimConfig` defaults when omitted).
        clock: The simulated time; a manual :class:`SimClock` at ``DEFAULT_START`` when omitted.
            With ``SimClock(realtime=True)`` a background task pushes ``du`` updates every
            ``config.update_period`` wall seconds.
        host: Interface to listen on.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).

    Example:
        >>> async def main() -> None:
        ...     async with Simulator() as sim:
        ...         print(sim.url)                      # ws://127.0.0.1:<port>/socket.io/websocket
        ...         await sim.advance(60)               # one minute later, du written to clients
        ...         await sim.faults.drop()             # every client sees close code 1006
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        clock: SimClock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config or SimConfig()
        self.clock = clock or SimClock()
        self.market = Market(seed=self.config.seed)
        self.stats = SimStats()
        self._peers: set[_Peer] = set()
        #: Fault injection (:class:`~tvframe.sim.faults.Faults`).
        self.faults = Faults(FaultState(), lambda: self._peers, self.stats)
        self._host = host
        self._port = port
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: the simulator is not started.
        """
        if self._server is None:
            raise RuntimeError("the simulator is not started: call start() first")
        for sock in self._server.sockets:
            bound: int = sock.getsockname()[1]
            return bound
        raise RuntimeError("the simulator has no listening socket")

    @property
    def url(self) -> str:
        """``ws://<host>:<port>/socket.io/websocket``, the URL to give the client."""
        return f"ws://{self._host}:{self.port}{PATH}"

    async def start(self) -> None:
        """Listen; returns once the socket is bound."""
        if self._server is not None:
            return
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            compression=None,
            process_request=self._check_request,
            server_header="tv",
            max_size=None,
            ping_interval=None,
        )
        if self.clock.realtime:
            self._spawn(self._push_forever())
        logger.info("TradingView simulator listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def advance(self, seconds: float) -> float:
        """Move the manual clock and write every live series' ``du`` updates before returning.

        Returns:
            The new simulated time.

        Raises:
            RuntimeError: the clock is real-time.
        """
        now = self.clock.advance(seconds)
        await self._push()
        return now

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- internals --------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(self) -> None:
        for peer in list(self._peers):
            async with peer.lock:
                with contextlib.suppress(ConnectionClosed):
                    await peer.send(peer.session.live_updates())

    async def _push_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.update_period)
            await self._push()

    async def _handle(self, ws: ServerConnection) -> None:
        self.stats.connections += 1
        host, port = ws.local_address[:2]
        session = ClientSession(
            self.config,
            self.market,
            self.clock,
            self.stats,
            session_name=f"0.{self.stats.connections}.1_sim1-charts-free-1-webchart-1",
            via=f"{host}:{port}",
            faults=self.faults.state,
        )
        peer = _Peer(ws, session, Outlet(ws, self.faults.state, self.stats))
        self._peers.add(peer)
        heartbeats = asyncio.get_running_loop().create_task(self._heartbeat(peer))
        try:
            async with peer.lock:
                await peer.send([session.hello()])
            await self._serve_peer(peer)
        except ConnectionClosed:
            pass
        finally:
            heartbeats.cancel()
            self._peers.discard(peer)

    async def _serve_peer(self, peer: _Peer) -> None:
        decoder = FrameDecoder()
        async for frame in peer.ws:
            if not isinstance(frame, str):
                logger.debug("ignored a binary frame of %d bytes", len(frame))
                continue
            try:
                items = decoder.feed(frame)
            except FramingError as exc:
                logger.debug("closing a connection with broken framing: %s", exc)
                await peer.ws.close(1002, "bad framing")
                return
            payloads = [item for item in items if not isinstance(item, Heartbeat)]
            async with peer.lock:
                await peer.send(peer.session.receive(payloads))
            if peer.session.closing:
                return

    async def _heartbeat(self, peer: _Peer) -> None:
        number = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.config.heartbeat_interval)
                async with peer.lock:
                    sent = await peer.outlet.heartbeat(encode_heartbeat(number + 1))
                if sent:
                    number += 1
                    self.stats.heartbeats_sent += 1

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer symbol search and pine-facade translate GETs; refuse any other path but
        TradingView's socket (any query string is fine), then injected refusals."""
        if urlsplit(request.path).path != PATH:
            found = answer(request.path) or pine_answer(request.path)
            if found is None:
                return connection.respond(404, "Not Found\n")
            return _json_response(connection, found)
        origins = request.headers.get_all("Origin")
        if len(origins) > 1:
            # tvdatafeed sends Origin twice; TradingView accepts it (protocol.md §12.1), while
            # the websockets handshake would refuse it: keep the first.
            del request.headers["Origin"]
            request.headers["Origin"] = origins[0]
        status = self.faults.take_refusal()
        if status is None:
            return None
        return connection.respond(status, f"{http.HTTPStatus(status).phrase}\n")


def _json_response(connection: ServerConnection, found: HttpAnswer) -> Response:
    """A JSON answer any web page may read, as TradingView's HTTP services send them."""
    response = connection.respond(found.status, found.text)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


class SimHandle:
    """A :class:`Simulator` running on its own event-loop thread, driven synchronously.

    Made by :func:`start` or :func:`running`; every method may be called from any thread but
    the loop's own.

    Example:
        >>> with running(bars_per_request=300) as sim:
        ...     sim.advance(60), sim.stats.connections
        (1793631660.0, 0)
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tvframe-sim", daemon=True
        )
        self._thread.start()
        self._faults = SyncFaults(simulator.faults, self._call)
        self._stop_callbacks: list[Callable[[], None]] = []
        try:
            self._call(simulator.start())
        except BaseException:
            self._shutdown()
            raise

    @property
    def url(self) -> str:
        """The simulator's WebSocket URL."""
        return self.simulator.url

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self.simulator.port

    @property
    def clock(self) -> SimClock:
        """The simulated clock."""
        return self.simulator.clock

    @property
    def market(self) -> Market:
        """The deterministic market the bars come from."""
        return self.simulator.market

    @property
    def config(self) -> SimConfig:
        """The settings in force."""
        return self.simulator.config

    @property
    def stats(self) -> SimStats:
        """Counters: connections, messages per method, bars sent."""
        return self.simulator.stats

    @property
    def faults(self) -> SyncFaults:
        """Fault injection; each call blocks until the fault is applied.

        Example:
            >>> with running() as sim:
            ...     sim.faults.drop()       # no client connected: nothing to close
            0
        """
        return self._faults

    def advance(self, seconds: float) -> float:
        """Move the clock; return once every live series' updates are written."""
        result: float = self._call(self.simulator.advance(seconds))
        return result

    def stop(self) -> None:
        """Stop the simulator and its thread (idempotent)."""
        if self._loop.is_closed():
            return
        try:
            self._call(self.simulator.stop())
        finally:
            self._shutdown()
            for callback in self._stop_callbacks:
                callback()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the simulator has stopped."""
        self._stop_callbacks.append(callback)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SimHandle methods cannot be called from the simulator's own loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def start(
    config: SimConfig | None = None, *, clock: SimClock | None = None, **config_overrides: Any
) -> SimHandle:
    """Start a simulator on a free loopback port in a background thread; ``stop()`` ends it.

    ``TVFRAME_URL`` points at it until ``stop()``, which restores the previous value. For
    notebooks and REPLs, where a ``with`` block is awkward; :func:`running` is the same as a
    context manager.

    Args:
        config: Base settings; ``config_overrides`` replace single fields of it.
        clock: The simulated clock (manual at ``DEFAULT_START`` when omitted).
        **config_overrides: Any :class:`SimConfig` field, e.g. ``bars_per_request=300``.

    Example:
        >>> sim = start()
        >>> os.environ["TVFRAME_URL"] == sim.url
        True
        >>> sim.stop()
    """
    settings = replace(config or SimConfig(), **config_overrides)
    handle = SimHandle(Simulator(settings, clock))
    url, previous = handle.url, os.environ.get(_ENV_URL)
    os.environ[_ENV_URL] = url

    def restore() -> None:
        if os.environ.get(_ENV_URL) != url:
            return  # someone pointed it elsewhere since: theirs to keep
        if previous is None:
            os.environ.pop(_ENV_URL, None)
        else:
            os.environ[_ENV_URL] = previous

    handle.on_stop(restore)
    return handle


@contextlib.contextmanager
def running(
    config: SimConfig | None = None, *, clock: SimClock | None = None, **config_overrides: Any
) -> Iterator[SimHandle]:
    """Run a simulator on a free loopback port in a background thread for a ``with`` block.

    ``TVFRAME_URL`` points at it for the duration (the previous value is restored after).

    Args:
        config: Base settings; ``config_overrides`` replace single fields of it.
        clock: The simulated clock (manual at ``DEFAULT_START`` when omitted).
        **config_overrides: Any :class:`SimConfig` field, e.g. ``bars_per_request=300``.

    Example:
        >>> import os
        >>> with running(max_depth=1000) as sim:
        ...     os.environ["TVFRAME_URL"] == sim.url
        True
    """
    handle = start(config, clock=clock, **config_overrides)
    try:
        yield handle
    finally:
        handle.stop()


def serve_forever(
    host: str = "127.0.0.1", port: int = 8765, *, realtime: bool = True, **config_overrides: Any
) -> None:
    """Serve until Ctrl-C (the ``tvframe sim`` command); logs the URL at INFO.

    Args:
        host: Interface to listen on.
        port: TCP port.
        realtime: Follow the wall clock and push live updates; otherwise time stands still.
        **config_overrides: Any :class:`SimConfig` field.

    Example:
        >>> serve_forever(port=8765)  # doctest: +SKIP
    """
    simulator = Simulator(
        SimConfig(**config_overrides), SimClock(realtime=realtime), host=host, port=port
    )

    async def main() -> None:
        async with simulator:
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
