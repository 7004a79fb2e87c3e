"""Fault injection: the server misbehaving the ways TradingView does (``protocol.md`` §10, §12.22).

:class:`Faults` is the switchboard tests drive (``Simulator.faults``, coroutines run on the
simulator's loop; ``SimHandle.faults``, blocking wrappers). :class:`FaultState` holds what is in
force; :class:`Outlet` applies it to one socket's outgoing side (silence, delay, the
``drop_after`` budget). Close codes follow RFC 6455: 1006 is never on the wire, so ``1006``
(and ``None``) means an abrupt TCP close; 1005 is a close frame without a status code.
"""

from __future__ import annotations

import asyncio
import http
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ProtocolError
from websockets.frames import Close, CloseCode

from tvframe.protocol.framing import encode_frame
from tvframe.sim.config import SimStats

__all__ = ["FaultState", "Faults", "Link", "Outlet", "SyncFaults", "close_socket"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_REFUSABLE = frozenset(s.value for s in http.HTTPStatus if 400 <= s.value <= 599)

#: Default reason of :meth:`Faults.protocol_error`, one TradingView really sends (§6).
DEFAULT_PROTOCOL_ERROR = "user connections limit reached"


@dataclass(slots=True)
class FaultState:
    """The faults in force; read by every socket on each write.

    Attributes:
        drop_after: Protocol messages a newly accepted socket may receive before it is dropped
            (``None``: never). Sockets keep the budget they were accepted with.
        drop_after_code: Close code of those drops (``None``/1006: abrupt).
        refuse_left: Handshakes still to refuse.
        refuse_status: HTTP status of refused handshakes.
        delay: Wall seconds every outgoing frame waits before it is written.
        duplicate_bars: Each live push repeats its earliest ``du`` after the others.
        reorder_bars: Each live push sends its ``du`` messages newest first.

    Example:
        >>> FaultState().delay
        0.0
    """

    drop_after: int | None = None
    drop_after_code: int | None = CloseCode.ABNORMAL_CLOSURE
    refuse_left: int = 0
    refuse_status: int = 429
    delay: float = 0.0
    duplicate_bars: bool = False
    reorder_bars: bool = False

    def arrange(self, updates: list[T]) -> list[T]:
        """One live push's updates, oldest first, as the bar faults want them sent.

        Example:
            >>> FaultState(reorder_bars=True, duplicate_bars=True).arrange([1, 2, 3])
            [3, 2, 1, 3]
        """
        if self.reorder_bars:
            updates = updates[::-1]
        if self.duplicate_bars and updates:
            updates = [*updates, updates[0]]
        return updates


def _check_code(code: int | None) -> None:
    if code is None or code in (CloseCode.NO_STATUS_RCVD, CloseCode.ABNORMAL_CLOSURE):
        return
    try:
        Close(code, "").check()
    except ProtocolError:
        raise ValueError(
            f"close code {code!r} cannot be sent: use 1000-1014, 3000-4999, 1005 (no status) "
            "or None/1006 (abrupt close)"
        ) from None


async def close_socket(ws: ServerConnection, code: int | None) -> None:
    """Close ``ws``: abruptly for ``None``/1006, with an empty close frame for 1005.

    Example:
        >>> async def kick(ws: ServerConnection) -> None:
        ...     await close_socket(ws, 1011)
    """
    if code is None or code == CloseCode.ABNORMAL_CLOSURE:
        ws.transport.abort()
        return
    close: Callable[..., Coroutine[Any, Any, None]] = ws.close
    # websockets writes an empty close payload only for code=None, which the asyncio
    # close() signature does not admit.
    arg = None if code == CloseCode.NO_STATUS_RCVD else code
    # Start the closing handshake without waiting for the peer's answer: a client whose
    # loop is busy (a test calling the sync handle from it) would otherwise stall us for
    # the whole close timeout. The close frame is written before the first await.
    task: asyncio.Task[None] = asyncio.get_running_loop().create_task(close(arg))
    _closing.add(task)
    task.add_done_callback(_closing.discard)
    await asyncio.sleep(0)


_closing: set[asyncio.Task[None]] = set()


class Outlet:
    """The outgoing side of one socket, with silence, delay and the drop budget applied.

    Args:
        ws: The accepted connection.
        state: The simulator's fault state (read on every write).
        stats: Counters; ``drops`` counts the sockets this outlet drops.

    Example:
        >>> async def hello(ws: ServerConnection) -> None:
        ...     await Outlet(ws, FaultState(), SimStats()).send(["~m~2~m~{}"])
    """

    def __init__(self, ws: ServerConnection, state: FaultState, stats: SimStats) -> None:
        self.ws = ws
        self._state = state
        self._stats = stats
        # The budget is fixed at accept time: drop_after applies to the *next* connections.
        self._budget = state.drop_after
        self._budget_code = state.drop_after_code
        self.dropped = False
        #: Write nothing, heartbeats included; writes are discarded, not queued.
        self.silent = False

    async def send(self, messages: list[str]) -> None:
        """Write framed messages as one frame, unless silenced; drop once the budget is spent."""
        if self.dropped or self.silent:
            if messages:
                logger.debug("discarded %d messages (silenced or dropped)", len(messages))
            return
        allowed = messages if self._budget is None else messages[: self._budget]
        await self.write("".join(allowed))
        if self._budget is not None:
            self._budget -= len(allowed)
            if self._budget == 0:
                await self.drop(self._budget_code)

    async def heartbeat(self, text: str) -> bool:
        """Write a heartbeat frame unless silenced; return whether it was written."""
        if self.dropped or self.silent:
            return False
        await self.write(text)
        return True

    async def write(self, text: str) -> None:
        """Write one frame after the configured delay, bypassing silence and budget."""
        if not text:
            return
        if self._state.delay > 0:
            await asyncio.sleep(self._state.delay)
        await self.ws.send(text)

    async def drop(self, code: int | None) -> None:
        """Close the socket as a fault (counted once in ``SimStats.drops``)."""
        if self.dropped:
            return
        self.dropped = True
        self._stats.drops += 1
        await close_socket(self.ws, code)


class Link(Protocol):
    """What the faults need of one server connection."""

    @property
    def outlet(self) -> Outlet:
        """The socket's writer."""
        ...

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a reply or push is written, so a fault never splits one."""
        ...

    def end_session(self, session_id: str, reason: str, info: str) -> list[str] | None:
        """``critical_error`` for a chart or quote session, which is forgotten afterwards;
        ``None`` when this connection has no such session."""
        ...


def _protocol_error_frame(reason: str) -> str:
    return encode_frame(orjson.dumps({"m": "protocol_error", "p": [reason]}).decode())


class Faults:
    """Switch server faults on and off; every method is a coroutine for the simulator's loop.

    Args:
        state: The state sockets read (shared with the server).
        links: Returns the open connections.
        stats: Counters (``drops``, ``handshakes_refused``).

    Example:
        >>> async def flaky(sim) -> None:          # sim: a started Simulator
        ...     await sim.faults.drop()            # every socket sees close code 1006
        ...     await sim.faults.refuse(2)         # the next 2 handshakes get HTTP 429
    """

    def __init__(
        self, state: FaultState, links: Callable[[], Collection[Link]], stats: SimStats
    ) -> None:
        self.state = state
        self._links = links
        self._stats = stats

    async def drop(self, code: int | None = CloseCode.ABNORMAL_CLOSURE) -> int:
        """Close every open socket now.

        Args:
            code: ``None`` or 1006 (default): abrupt TCP close, no close frame (the client sees
                1006); 1005: a close frame without status; else a close frame with ``code``.

        Returns:
            How many sockets were closed.

        Raises:
            ValueError: ``code`` cannot be sent in a close frame.

        Example:
            >>> await sim.faults.drop(1011)  # doctest: +SKIP
            1
        """
        _check_code(code)
        links = list(self._links())
        await asyncio.gather(*(link.outlet.drop(code) for link in links))
        return len(links)

    async def drop_after(
        self, messages: int | None, code: int | None = CloseCode.ABNORMAL_CLOSURE
    ) -> None:
        """Drop each connection accepted from now on once it has been sent ``messages``
        protocol messages (the hello counts, heartbeats do not); ``None`` clears it.

        Raises:
            ValueError: ``messages`` is negative or ``code`` cannot be sent.

        Example:
            >>> await sim.faults.drop_after(5)  # doctest: +SKIP
        """
        if messages is not None and messages < 0:
            raise ValueError(f"drop_after needs messages >= 0 or None, got {messages!r}")
        _check_code(code)
        self.state.drop_after, self.state.drop_after_code = messages, code

    async def silence(self, on: bool = True) -> int:
        """Make every open socket stop writing (heartbeats, replies, live data) while it stays
        open; what it would have written meanwhile is lost. Sockets accepted later are not
        silenced, so a client that gives up and dials again gets a working connection.
        ``silence(False)`` resumes the silenced sockets that are still open.

        Returns:
            How many sockets were switched.

        Example:
            >>> await sim.faults.silence()  # doctest: +SKIP
            1
        """
        links = list(self._links())
        for link in links:
            link.outlet.silent = on
        return len(links)

    async def refuse(self, count: int, status: int = 429) -> None:
        """Answer the next ``count`` handshakes with HTTP ``status`` instead of 101.

        Raises:
            ValueError: ``count`` is negative or ``status`` is not a 4xx/5xx code.

        Example:
            >>> await sim.faults.refuse(1, 503)  # doctest: +SKIP
        """
        if count < 0 or status not in _REFUSABLE:
            raise ValueError(
                f"refuse needs count >= 0 and a known 4xx/5xx HTTP status, got {count!r}, "
                f"{status!r}"
            )
        self.state.refuse_left, self.state.refuse_status = count, status

    def take_refusal(self) -> int | None:
        """For the server's handshake hook: the status to refuse this handshake with, if any.

        Example:
            >>> Faults(FaultState(refuse_left=1), list, SimStats()).take_refusal()
            429
        """
        if self.state.refuse_left <= 0:
            return None
        self.state.refuse_left -= 1
        self._stats.handshakes_refused += 1
        return self.state.refuse_status

    async def protocol_error(self, reason: str = DEFAULT_PROTOCOL_ERROR) -> int:
        """Send ``protocol_error [reason]`` to every socket (even a silenced one), then close it.

        Returns:
            How many sockets were closed.

        Example:
            >>> await sim.faults.protocol_error("banned")  # doctest: +SKIP
            1
        """
        links = list(self._links())
        await asyncio.gather(*(self._protocol_error(link, reason) for link in links))
        return len(links)

    @staticmethod
    async def _protocol_error(link: Link, reason: str) -> None:
        async with link.lock:
            try:
                await link.outlet.write(_protocol_error_frame(reason))
            except ConnectionClosed:
                return
        await link.outlet.drop(CloseCode.NORMAL_CLOSURE)

    async def critical_error(
        self,
        session_id: str,
        reason: str = "internal error",
        info: str = "session killed by fault injection",
    ) -> None:
        """Send ``critical_error [session_id, reason, info]`` and forget that chart or quote
        session: later calls on it get ``protocol_error {unknown_session_id,…}``.

        Raises:
            LookupError: no open socket has that session.

        Example:
            >>> await sim.faults.critical_error("cs_abc")  # doctest: +SKIP
        """
        for link in list(self._links()):
            async with link.lock:
                messages = link.end_session(session_id, reason, info)
                if messages is not None:
                    await link.outlet.send(messages)
                    return
        raise LookupError(f"no open socket has a chart or quote session {session_id!r}")

    async def delay(self, seconds: float) -> None:
        """Delay every outgoing frame by ``seconds`` of wall time (0 clears).

        Raises:
            ValueError: ``seconds`` is negative or not finite.

        Example:
            >>> await sim.faults.delay(0.2)  # doctest: +SKIP
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"delay needs a finite number of seconds >= 0, got {seconds!r}")
        self.state.delay = float(seconds)

    async def duplicate_bars(self, on: bool = True) -> None:
        """Make each live push repeat its earliest ``du`` after the newer ones.

        Example:
            >>> await sim.faults.duplicate_bars()  # doctest: +SKIP
        """
        self.state.duplicate_bars = on

    async def reorder_bars(self, on: bool = True) -> None:
        """Make each live push send its ``du`` messages newest first.

        Example:
            >>> await sim.faults.reorder_bars()  # doctest: +SKIP
        """
        self.state.reorder_bars = on


class SyncFaults:
    """:class:`Faults` for code outside the simulator's loop: each call blocks until applied.

    Example:
        >>> from tvframe.sim import running
        >>> with running() as sim:
        ...     sim.faults.refuse(1)
        ...     sim.faults.state.refuse_left
        1
    """

    def __init__(self, faults: Faults, call: Callable[[Awaitable[Any]], Any]) -> None:
        self._faults = faults
        self._call = call

    @property
    def state(self) -> FaultState:
        """The faults in force (read-only use)."""
        return self._faults.state

    def drop(self, code: int | None = CloseCode.ABNORMAL_CLOSURE) -> int:
        """Blocking :meth:`Faults.drop`."""
        closed: int = self._call(self._faults.drop(code))
        return closed

    def drop_after(
        self, messages: int | None, code: int | None = CloseCode.ABNORMAL_CLOSURE
    ) -> None:
        """Blocking :meth:`Faults.drop_after`."""
        self._call(self._faults.drop_after(messages, code))

    def silence(self, on: bool = True) -> int:
        """Blocking :meth:`Faults.silence`."""
        switched: int = self._call(self._faults.silence(on))
        return switched

    def refuse(self, count: int, status: int = 429) -> None:
        """Blocking :meth:`Faults.refuse`."""
        self._call(self._faults.refuse(count, status))

    def protocol_error(self, reason: str = DEFAULT_PROTOCOL_ERROR) -> int:
        """Blocking :meth:`Faults.protocol_error`."""
        closed: int = self._call(self._faults.protocol_error(reason))
        return closed

    def critical_error(
        self,
        session_id: str,
        reason: str = "internal error",
        info: str = "session killed by fault injection",
    ) -> None:
        """Blocking :meth:`Faults.critical_error`."""
        self._call(self._faults.critical_error(session_id, reason, info))

    def delay(self, seconds: float) -> None:
        """Blocking :meth:`Faults.delay`."""
        self._call(self._faults.delay(seconds))

    def duplicate_bars(self, on: bool = True) -> None:
        """Blocking :meth:`Faults.duplicate_bars`."""
        self._call(self._faults.duplicate_bars(on))

    def reorder_bars(self, on: bool = True) -> None:
        """Blocking :meth:`Faults.reorder_bars`."""
        self._call(self._faults.reorder_bars(on))
