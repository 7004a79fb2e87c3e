"""The async client: one WebSocket, many chart sessions multiplexed on it.

Rules of this module:
- it is the only place that touches the socket, and the one seam where transport errors
  (``websockets``, ``OSError``) are mapped to tvframe's errors, with ``raise … from exc``;
- every await that depends on the server has a timeout;
- the auth token is a secret: it is sent once and never logged, repr'd or put in an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import functools
import logging
import math
import os
import random
import secrets
import string
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import websockets
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame

from tvframe.barparser import BarParser
from tvframe.bars import merge_bars, select_bars
from tvframe.errors import (
    AuthError,
    ConnectionClosed,
    CriticalError,
    InvalidArgumentError,
    InvalidSymbolError,
    ProtocolError,
    RateLimitError,
    SeriesError,
    ShortHistoryWarning,
    TvFrameError,
    TvTimeoutError,
    WebSocketException,
)
from tvframe.intervals import Interval, parse_interval
from tvframe.lifecycle import AsyncClosing
from tvframe.models import SymbolInfo
from tvframe.protocol import (
    Bars,
    Connection,
    CriticalErrorEvent,
    DataUpdate,
    Event,
    Hello,
    PendingBars,
    ProtocolErrorEvent,
    SeriesCompleted,
    SeriesErrorEvent,
    SymbolErrorEvent,
    SymbolResolved,
    TimescaleUpdate,
    symbol_descriptor,
)
from tvframe.protocol.framing import DEFAULT_MAX_BUFFER, DEFAULT_MAX_MESSAGE
from tvframe.symbols import Symbol, parse_symbol
from tvframe.times import TimeLike, format_epoch, to_epoch
from tvframe.watchdog import Watchdog

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from tvframe.stream import Stream
    from tvframe.studies import IndicatorLike, StudyValues

__all__ = [
    "DEFAULT_TOKEN",
    "DEFAULT_URL",
    "MAX_BARS",
    "SERIES_ID",
    "SYMBOL_REF",
    "Client",
    "ClientState",
    "History",
    "Route",
    "backoff",
    "check_n_bars",
    "is_transient_refusal",
    "new_id",
    "open_series_calls",
    "resolve_token",
    "resolve_url",
]

logger = logging.getLogger(__name__)

#: TradingView's public data endpoint; ``type=chart`` is what lets Pine studies run (§1.1).
DEFAULT_URL = "wss://data.tradingview.com/socket.io/websocket?from=chart%2F&type=chart"
#: The anonymous token; works for public data.
DEFAULT_TOKEN = "unauthorized_user_token"
#: Largest ``n_bars`` accepted; far beyond any plan, it only stops obvious mistakes.
MAX_BARS = 1_000_000
#: Bars a history call fetches when neither ``n_bars`` nor ``start`` is given.
DEFAULT_BARS = 5000
#: What ``adjustment=`` accepts (``protocol.md`` §4).
ADJUSTMENTS = ("splits", "dividends")
#: What ``session=`` accepts: the symbol's trading session, not a protocol session.
SESSIONS = ("regular", "extended")
_ID_ALPHABET = string.ascii_lowercase
# Every byte value to a letter (values 0-233 map evenly, the rest lean to the first 22).
_ID_LETTERS = bytes(ord(_ID_ALPHABET[b % len(_ID_ALPHABET)]) for b in range(256))
# Auth-class protocol errors are never retried (protocol.md §6 protocol_error reasons).
_AUTH_REASONS = ("bad auth token", "banned", "user connections limit reached")

_T = TypeVar("_T")
# Bar arrays parsing at once before the reader stops reading (a bound on memory).
_MAX_PARSING = 32

# The timeout of the call in progress in this task (Client.history(timeout=)), else None.
_call_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tvframe_call_timeout", default=None
)


class ClientState(enum.Enum):
    """Life cycle of a :class:`Client`; a closed client cannot be reopened."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class History:
    """Bars of one symbol and interval as fetched, before any DataFrame is built.

    Attributes:
        symbol: the symbol as requested (validated).
        interval: the interval as requested (validated).
        bars: ascending, one per bar time; the last one may still be forming.
        info: what the server said about the symbol.
        requested: how many bars were asked for.
        indicators: the values of each study asked for, aligned to ``bars`` (same times,
            NaN where the server sent no value), in the order asked.
    """

    symbol: Symbol
    interval: Interval
    bars: Bars
    info: SymbolInfo
    requested: int
    indicators: tuple[StudyValues, ...] = ()

    @property
    def indicator_columns(self) -> dict[str, npt.NDArray[np.float64]]:
        """Every indicator column by name, each as long as ``bars``."""
        return {name: col for values in self.indicators for name, col in values.columns.items()}


class Route(Protocol):
    """Receives the events of one server-side session (chart or quote) on this client."""

    def on_event(self, event: Event) -> None:
        """Handle one event addressed to the session."""

    def on_lost(self, error: TvFrameError, reconnecting: bool) -> bool:
        """The socket dropped. Return True to be recreated after a reconnect."""

    def resubscribe(self) -> list[tuple[str, list[Any]]]:
        """Calls that recreate the session on a fresh socket."""

    def on_reconnected(self, attempt: int, reason: str) -> None:
        """The session was recreated on a fresh socket."""


class _OneShot:
    """A route feeding a queue, for request/response calls; it does not survive a drop."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | TvFrameError] = asyncio.Queue()

    def on_event(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def on_lost(self, error: TvFrameError, reconnecting: bool) -> bool:
        self.queue.put_nowait(error)
        return False

    def resubscribe(self) -> list[tuple[str, list[Any]]]:
        return []

    def on_reconnected(self, attempt: int, reason: str) -> None:
        return None


def backoff(
    initial: float = 0.5, factor: float = 2.0, maximum: float = 30.0, jitter: float = 0.2
) -> Iterator[float]:
    """Reconnect delays: exponential, capped, with proportional random jitter; endless.

    Example:
        >>> delays = backoff(1.0, 2.0, 5.0, jitter=0.0)
        >>> [next(delays) for _ in range(5)]
        [1.0, 2.0, 4.0, 5.0, 5.0]
    """
    delay = initial
    while True:
        spread = delay * jitter
        yield max(0.0, delay + random.uniform(-spread, spread))
        delay = min(maximum, delay * factor)


def resolve_url(url: str | None = None) -> str:
    """The endpoint: the argument, else ``TVFRAME_URL``, else TradingView's public endpoint.

    Raises:
        InvalidArgumentError: the URL is not ``ws://`` or ``wss://``.

    Example:
        >>> resolve_url("ws://127.0.0.1:8765/socket.io/websocket")
        'ws://127.0.0.1:8765/socket.io/websocket'
    """
    chosen = url or os.environ.get("TVFRAME_URL") or DEFAULT_URL
    parts = urlsplit(chosen)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidArgumentError(
            f"invalid url {chosen!r}: expected ws://host[:port]/path or wss://host/path"
        )
    return chosen


def resolve_token(token: str | SecretStr | None = None) -> SecretStr:
    """The auth token: the argument, else ``TVFRAME_TOKEN``, else the anonymous token.

    Example:
        >>> resolve_token(None).get_secret_value()
        'unauthorized_user_token'
    """
    if isinstance(token, SecretStr):
        return token
    if token is not None and not isinstance(token, str):
        raise InvalidArgumentError(f"token must be a string, got {type(token).__name__}")
    value = token or os.environ.get("TVFRAME_TOKEN") or DEFAULT_TOKEN
    if any(ch.isspace() for ch in value) or len(value) > 8192:
        raise InvalidArgumentError("token must be one line without spaces and under 8 KiB")
    return SecretStr(value)


def new_id(prefix: str) -> str:
    """A session id the way TradingView's Python peers make them: prefix + 12 lowercase letters."""
    # One read of the system's randomness, not one per letter (a syscall each).
    return prefix + secrets.token_bytes(12).translate(_ID_LETTERS).decode("ascii")


#: The series and symbol ids every chart session of tvframe uses (one series per session).
SERIES_ID = "sds_1"
SYMBOL_REF = "sds_sym_1"


def open_series_calls(
    session: str,
    symbol: Symbol,
    resolution: str,
    count: int | list[Any],
    *,
    adjustment: str = "splits",
    symbol_session: str = "regular",
) -> list[tuple[str, list[Any]]]:
    """The calls that open a chart session with one series of ``count`` bars (§3, §7).

    Example:
        >>> [m for m, _ in open_series_calls("cs_x", parse_symbol("NASDAQ:AAPL"), "5", 10)]
        ['chart_create_session', 'switch_timezone', 'resolve_symbol', 'create_series']
    """
    desc = symbol_descriptor(symbol.full_name, adjustment=adjustment, session=symbol_session)
    return [
        ("chart_create_session", [session, ""]),
        ("switch_timezone", [session, "Etc/UTC"]),
        ("resolve_symbol", [session, SYMBOL_REF, desc]),
        ("create_series", [session, SERIES_ID, "s1", SYMBOL_REF, resolution, count, ""]),
    ]


def check_n_bars(n_bars: int) -> int:
    """Validate a bar count (1 to :data:`MAX_BARS`)."""
    if isinstance(n_bars, bool) or not isinstance(n_bars, int):
        raise InvalidArgumentError(f"n_bars must be an integer, got {n_bars!r}")
    if not 1 <= n_bars <= MAX_BARS:
        raise InvalidArgumentError(f"n_bars={n_bars} is out of range: use 1 to {MAX_BARS}")
    return n_bars


def check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    """Validate that argument ``name`` is one of ``allowed``.

    Example:
        >>> check_choice("session", "extended", SESSIONS)
        'extended'
    """
    if value not in allowed:
        raise InvalidArgumentError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _protocol_error(reason: str) -> TvFrameError:
    if reason.startswith(_AUTH_REASONS):
        return AuthError(
            f"the server rejected the connection: {reason!r}. Check the token "
            "(TVFRAME_TOKEN or token=); an expired or foreign token must be replaced."
        )
    if "rate" in reason:
        return RateLimitError(f"the server refused for rate limits: {reason!r}")
    return ProtocolError(f"the server reported a protocol error and will close: {reason!r}")


def _retryable(error: TvFrameError) -> bool:
    return not isinstance(error, AuthError)


def is_transient_refusal(error: BaseException) -> bool:
    """Whether a failed handshake is worth dialing again: HTTP 429, or a 5xx from a busy server.

    An unreachable host (connection refused, DNS) is not: it is most often a wrong URL, and a
    retry would only delay the error.

    Example:
        >>> is_transient_refusal(RateLimitError("HTTP 429")), is_transient_refusal(AuthError("x"))
        (True, False)
    """
    if isinstance(error, RateLimitError):
        return True
    cause = error.__cause__
    return (
        isinstance(error, WebSocketException)
        and isinstance(cause, websockets.InvalidStatus)
        and cause.response.status_code >= 500
    )


if TYPE_CHECKING:
    _LoggerAdapter = logging.LoggerAdapter[logging.Logger]
else:  # not subscriptable at runtime before Python 3.11
    _LoggerAdapter = logging.LoggerAdapter


class _RedactingLogger(_LoggerAdapter):
    """websockets' client logger with the token cut out of the frames it logs at DEBUG.

    websockets logs the start of every frame it sends; the ``set_auth_token`` frame would put
    the token's first characters in ``websockets.client``. Records keep their logger name.
    """

    def __init__(self, secret: str) -> None:
        super().__init__(logging.getLogger("websockets.client"), {})
        self._secret = secret.encode()

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            super().log(level, msg, *(self._redact(arg) for arg in args), **kwargs)

    def _redact(self, arg: object) -> object:
        if isinstance(arg, Frame) and self._secret in arg.data:
            return replace(arg, data=bytes(arg.data).replace(self._secret, b"<token>"))
        return arg


class Client(AsyncClosing):
    """Async TradingView client over one WebSocket, reconnecting when it drops.

    Args:
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView's public endpoint.
        token: auth token (``str`` or ``SecretStr``); default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds any single wait on the server may take.
        heartbeat_timeout: seconds without any server message before the socket is
            considered dead (the server sends a heartbeat every 10 s).
        max_message: largest protocol message accepted, in UTF-16 units.
        reconnect: reconnect when the socket drops while streams are open (auth errors are
            never retried).
        reconnect_delays: a factory of delay iterators (default :func:`backoff`).
        max_reconnect_attempts: give up (and raise to every stream) after this many failed
            attempts in a row.

    Example:
        >>> async def main() -> None:
        ...     async with Client() as client:
        ...         hist = await client.history("NASDAQ:AAPL", "5m", 500)
        ...         print(len(hist.bars))
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | SecretStr | None = None,
        *,
        timeout: float = 30.0,
        heartbeat_timeout: float = 35.0,
        max_message: int = DEFAULT_MAX_MESSAGE,
        reconnect: bool = True,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        max_reconnect_attempts: int = 10,
    ) -> None:
        if timeout <= 0 or heartbeat_timeout <= 0:
            raise InvalidArgumentError("timeout and heartbeat_timeout must be positive")
        if max_reconnect_attempts < 1:
            raise InvalidArgumentError("max_reconnect_attempts must be at least 1")
        self.url = resolve_url(url)
        self._token = resolve_token(token)
        self.timeout = timeout
        self.heartbeat_timeout = heartbeat_timeout
        self._max_message = max_message
        self._reconnect = reconnect
        self._reconnect_delays = reconnect_delays
        self._max_attempts = max_reconnect_attempts
        self._conn = self._new_protocol()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._hello: asyncio.Future[Hello] | None = None
        self._up = asyncio.Event()
        self._routes: dict[str, Route] = {}
        self._failure: TvFrameError | None = None
        self._pending_error: TvFrameError | None = None
        # Big bar arrays are parsed there, off the loop thread (made at the first one).
        self._parser: BarParser | None = None
        #: How many times the socket was re-established.
        self.reconnects = 0
        self.state = ClientState.NEW

    def __repr__(self) -> str:
        return f"<Client {self.state.value} {self._host}>"

    @property
    def _host(self) -> str:
        return urlsplit(self.url).netloc

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    @property
    def is_open(self) -> bool:
        """True while the client is usable (possibly reconnecting)."""
        return self.state is ClientState.OPEN and self._failure is None

    def _new_protocol(self) -> Connection:
        return Connection(
            self._max_message, max(DEFAULT_MAX_BUFFER, 2 * self._max_message), defer_bars=True
        )

    # --- connection ------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket, wait for the server's hello, authenticate.

        Raises:
            RateLimitError: HTTP 429 at the handshake.
            WebSocketException: the handshake failed or the host is unreachable.
            TvTimeoutError: no hello within ``timeout``.
        """
        if self.state is not ClientState.NEW:
            raise TvFrameError(f"{self!r} cannot be opened again; create a new Client")
        self.state = ClientState.OPEN
        try:
            await self._open_transport()
        except BaseException:
            await self.close()
            raise

    async def _open_transport(self) -> None:
        """One socket: handshake, hello, auth; the reader task then runs until it drops."""
        self._conn = self._new_protocol()
        try:
            ws = await connect(
                self.url,
                compression=None,  # TradingView declines permessage-deflate anyway (§1.2)
                max_size=4 * self._max_message,
                origin=websockets.Origin("https://www.tradingview.com"),
                user_agent_header="tvframe/0.1",
                open_timeout=self.timeout,
                ping_interval=20,
                ping_timeout=self.timeout,
                close_timeout=5,
                logger=_RedactingLogger(self._token.get_secret_value()),
            )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            if status == 429:
                raise RateLimitError(
                    f"{self._host} refused the connection with HTTP 429 (too many connections); "
                    "back off before retrying"
                ) from exc
            raise WebSocketException(
                f"{self._host} refused the WebSocket handshake: HTTP {status}"
            ) from exc
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise WebSocketException(f"could not connect to {self._host}: {exc}") from exc
        except TimeoutError as exc:
            raise TvTimeoutError(
                f"no WebSocket handshake from {self._host} within {self.timeout}s"
            ) from exc
        loop = asyncio.get_running_loop()
        self._ws = ws
        self._hello = hello = loop.create_future()
        self._reader = loop.create_task(self._read_loop(ws), name=f"tvframe-reader-{self._host}")
        try:
            await self._wait(asyncio.shield(hello), f"the hello from {self._host}")
        except TvFrameError:
            hello.cancel()
            ws.transport.abort()  # the reader ends by itself on the aborted socket
            raise
        self._conn.send("set_auth_token", [self._token.get_secret_value()])
        self._conn.send("set_locale", ["en", "US"])
        await self._flush()
        self._up.set()

    async def close(self) -> None:
        """Close the socket, stop reconnecting, fail what still waits; safe to call twice."""
        if self.state is ClientState.CLOSED:
            return
        self.state = ClientState.CLOSED
        self._up.clear()
        self._fail(ConnectionClosed("the client was closed", code=1000))
        if self._reconnector is not None and self._reconnector is not asyncio.current_task():
            self._reconnector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnector
        # Closing the socket ends the reader by itself (recv raises); cancelling a reader
        # blocked in recv() is not reliably honoured inside wait_for on Python 3.10/3.11.
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
            except asyncio.TimeoutError:
                self._reader.cancel()
        if self._parser is not None:
            self._parser.close()  # its jobs take milliseconds

    # --- transport -------------------------------------------------------------------

    async def _flush(self) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionClosed("not connected")
        try:
            for frame in self._conn.data_to_send():
                await ws.send(frame)
        except websockets.ConnectionClosed as exc:
            raise self._closed_error(exc) from exc

    async def send(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Send client calls batched into one frame (as the web app does).

        While the client reconnects this waits (up to ``timeout``) for the new socket.
        """
        self._raise_if_failed()
        if not self._up.is_set():
            await self._wait(asyncio.ensure_future(self._up.wait()), "the connection to come back")
            self._raise_if_failed()
        for method, params in calls:
            self._conn.send(method, params)
        await self._flush()

    def _closed_error(self, exc: websockets.ConnectionClosed) -> ConnectionClosed:
        # When websockets closed the socket itself (1009 too big, 1002) only `sent` says why.
        frame = exc.rcvd if exc.rcvd is not None else exc.sent
        code = frame.code if frame is not None else 1006
        reason = frame.reason if frame is not None else ""
        return ConnectionClosed(
            f"connection to {self._host} closed (code {code}{': ' + reason if reason else ''})",
            code=code,
            reason=reason,
        )

    async def _read_loop(self, ws: ClientConnection) -> None:
        error: TvFrameError
        task = asyncio.current_task()
        assert task is not None
        watchdog = Watchdog(task, self.heartbeat_timeout)
        conn = self._conn
        # Parses not done yet; a done one leaves at once (nothing keeps its columns alive).
        parsing: set[asyncio.Future[Any]] = set()
        try:
            while True:
                frame = await ws.recv()
                if not isinstance(frame, str):
                    raise ProtocolError("the server sent a binary frame; TradingView sends text")
                conn.receive(frame)
                # Fed once the frame is decoded: silence is time spent waiting, not decoding.
                watchdog.feed()
                self._parse_jobs(conn, parsing)
                await self._flush()
                for event in conn.events():
                    self._dispatch(event)
                if len(parsing) >= _MAX_PARSING:
                    # Back-pressure: the socket is read on once a parse is done.
                    await asyncio.wait(parsing, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if not watchdog.fired:
                raise
            uncancel = getattr(task, "uncancel", None)  # Python 3.11+: the cancel is handled
            if uncancel is not None:
                uncancel()
            error = TvTimeoutError(
                f"no message (not even a heartbeat) for {self.heartbeat_timeout}s; "
                "the connection is considered dead"
            )
        except websockets.ConnectionClosed as exc:
            error = self._closed_error(exc)
        except TvFrameError as exc:
            error = exc
        except OSError as exc:
            error = WebSocketException(f"socket error: {exc}")
        except Exception as exc:  # a bug of tvframe's: fail the callers instead of hanging them
            error = self._internal_error(exc)
        finally:
            watchdog.stop()
        if parsing:
            # What arrived before the end is delivered before the end is reported.
            await asyncio.wait(parsing)
        if isinstance(error, TvTimeoutError):
            # A silent peer will not answer a closing handshake either: drop the socket.
            ws.transport.abort()
        else:
            await ws.close()
        self._lost(error, ws)

    def _parse_jobs(self, conn: Connection, parsing: set[asyncio.Future[Any]]) -> None:
        """Parse the bar numbers ``conn`` left on the worker thread; each job's events follow
        once it is done. (A function of its own: no reader's local keeps a job alive.)"""
        for job in conn.jobs():
            if self._parser is None:
                self._parser = BarParser(asyncio.get_running_loop())
            future = self._parser.parse(job.text)
            future.add_done_callback(functools.partial(self._parsed, conn, job))
            parsing.add(future)
            future.add_done_callback(parsing.discard)

    def _parsed(self, conn: Connection, job: PendingBars, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.warning("parsing bars on a worker thread failed (%r); decoding as JSON", error)
        try:
            conn.resolve(job, None if error is not None else future.result())
            if conn is self._conn:
                for event in conn.events():
                    self._dispatch(event)
        except Exception as exc:  # as in the reader: the socket goes, the callers hear why
            self._pending_error = self._internal_error(exc)
            if conn is self._conn and self._ws is not None:
                self._ws.transport.abort()

    def _internal_error(self, exc: Exception) -> TvFrameError:
        logger.error("tvframe failed on a message from %s", self._host, exc_info=exc)
        return TvFrameError(
            f"tvframe failed on a message from {self._host} ({exc!r}) and dropped the "
            "connection; this is a bug of tvframe's, please report it"
        )

    def _dispatch(self, event: Event) -> None:
        # Routed events (nearly all) first; decoding guarantees a session is a str.
        route = self._routes.get(getattr(event, "session", ""))
        if route is not None:
            route.on_event(event)
        elif isinstance(event, Hello):
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(event)
        elif isinstance(event, ProtocolErrorEvent):
            # The server closes right after; remember why, so the drop reports the real cause.
            logger.warning("protocol_error from the server: %s", event.reason)
            self._pending_error = _protocol_error(event.reason)
        else:
            logger.debug("no route for %s", type(event).__name__)

    def _lost(self, error: TvFrameError, ws: ClientConnection) -> None:
        """A socket is gone: fail one-shot calls; reconnect if streams want it."""
        if ws is not self._ws:
            return  # an older socket, already replaced
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
        self._up.clear()
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(error)
        if self.state is not ClientState.OPEN or self._failure is not None:
            return
        reconnecting = self._reconnect and _retryable(error)
        self._routes = {
            session: route
            for session, route in self._routes.items()
            if route.on_lost(error, reconnecting)
        }
        if not (reconnecting and self._routes):
            self._fail(error)
        elif self._reconnector is None or self._reconnector.done():
            logger.warning("connection to %s lost (%s); reconnecting", self._host, error)
            self._reconnector = asyncio.get_running_loop().create_task(
                self._reconnect_loop(error), name=f"tvframe-reconnect-{self._host}"
            )
        # else: a reconnect is under way; it sees the socket down and tries again.

    async def _reconnect_loop(self, cause: TvFrameError) -> None:
        delays = self._reconnect_delays()
        last: TvFrameError = cause
        for attempt in range(1, self._max_attempts + 1):
            delay = next(delays)
            logger.info("reconnect attempt %d to %s in %.2fs", attempt, self._host, delay)
            await asyncio.sleep(delay)
            if self.state is not ClientState.OPEN or self._failure is not None:
                return
            try:
                await self._open_transport()
                for route in list(self._routes.values()):
                    self._queue_calls(route.resubscribe())
                await self._flush()
                if not self._up.is_set():
                    raise ConnectionClosed("the new connection dropped at once")
            except TvFrameError as exc:
                last = exc
                logger.warning("reconnect attempt %d to %s failed: %s", attempt, self._host, exc)
                if not _retryable(exc):
                    break
                continue
            self.reconnects += 1
            logger.warning("reconnected to %s after %d attempt(s)", self._host, attempt)
            for route in list(self._routes.values()):
                route.on_reconnected(attempt, str(cause))
            return
        self._fail(last)

    def _queue_calls(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> None:
        for method, params in calls:
            self._conn.send(method, params)

    def _fail(self, error: TvFrameError) -> None:
        """Record the first fatal error and hand it to every route."""
        if self._failure is not None:
            return
        self._failure = error
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(error)
        routes, self._routes = self._routes, {}
        for route in routes.values():
            route.on_lost(error, False)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self.state is not ClientState.OPEN:
            raise TvFrameError(f"{self!r} is not open; use 'async with Client() as c:'")

    def add_route(self, session: str, route: Route) -> None:
        """Deliver the events of ``session`` to ``route`` (used by streams)."""
        self._raise_if_failed()
        self._routes[session] = route

    def remove_route(self, session: str) -> None:
        """Stop delivering events of ``session``."""
        self._routes.pop(session, None)

    async def _wait(
        self, awaitable: asyncio.Future[_T], what: str, timeout: float | None = None
    ) -> _T:
        limit = timeout if timeout is not None else _call_timeout.get() or self.timeout
        try:
            return await asyncio.wait_for(awaitable, limit)
        except asyncio.TimeoutError:
            raise TvTimeoutError(f"timed out after {limit}s waiting for {what}") from None

    async def _next(self, queue: asyncio.Queue[Event | TvFrameError], what: str) -> Event:
        item = await self._wait(asyncio.ensure_future(queue.get()), what)
        if isinstance(item, TvFrameError):
            raise item
        return item

    # --- streams ---------------------------------------------------------------------

    def stream(
        self,
        symbols: str | Symbol | Iterable[str | Symbol],
        interval: str | Interval,
        *,
        n_bars: int = 1,
        quotes: bool = False,
        adjustment: str = "splits",
        session: str = "regular",
        indicators: IndicatorLike | Sequence[IndicatorLike] = (),
    ) -> Stream:
        """A live stream of bars (and quotes) for many symbols over this one socket.

        Use it as ``async with client.stream([...], "1m") as stream: async for event in stream``.
        ``n_bars`` bars are loaded first (all but the forming one arrive closed); with
        ``quotes=True`` a quote session streams merged quotes for the same symbols.
        ``adjustment`` (``"splits"``/``"dividends"``) and ``session`` (``"regular"``/
        ``"extended"``) apply to every series, as in :meth:`history`. ``indicators``
        (:func:`tvframe.indicator` specs) run on every series; their values arrive as
        :class:`~tvframe.events.IndicatorUpdate` after the bar's update, and a study the
        server refuses ends the iteration with :class:`~tvframe.errors.StudyError`.

        Raises:
            InvalidSymbolError: naming every malformed symbol (before any I/O).
            InvalidIntervalError: bad interval spelling (before any I/O).
            InvalidArgumentError: bad ``n_bars``, ``adjustment``, ``session`` or
                ``indicators`` (before any I/O).

        Example:
            >>> async def main() -> None:
            ...     async with Client() as client, client.stream("BINANCE:BTCUSDT", "1m") as s:
            ...         async for event in s:
            ...             print(event)
        """
        from tvframe.stream import Stream

        return Stream(
            self, symbols, interval, n_bars=n_bars, quotes=quotes, adjustment=adjustment,
            session=session, indicators=indicators,
        )  # fmt: skip

    # --- history ---------------------------------------------------------------------

    async def history(
        self,
        symbol: str | Symbol,
        interval: str | Interval,
        n_bars: int | None = None,
        *,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        adjustment: str = "splits",
        session: str = "regular",
        indicators: IndicatorLike | Sequence[IndicatorLike] = (),
        timeout: float | None = None,
    ) -> History:
        """Fetch bars, paging with ``request_more_data`` as needed.

        Either the latest ``n_bars`` bars (default 5 000), or, with ``start=``, every bar that
        opens at or after ``start``; ``end=`` (exclusive) moves the window's end back from now.
        When the server has fewer bars (history depth, plan caps), returns what exists and
        warns with :class:`~tvframe.errors.ShortHistoryWarning` naming the shortfall.
        ``indicators`` (:func:`tvframe.indicator` specs) are computed by the server on the
        loaded bars, all on this call's one chart session; see :attr:`History.indicators`.
        ``timeout`` replaces the client's for each wait of this call (a pooled client serves
        calls with different timeouts).

        Raises:
            InvalidSymbolError: malformed (before any I/O) or unknown to the server.
            InvalidIntervalError: the interval spelling is not understood (before any I/O).
            InvalidArgumentError: bad ``n_bars``, ``start``/``end``, ``adjustment``, ``session``.
            SeriesError: the server refused the series (e.g. seconds on a free plan).
            StudyError: the server refused an indicator (naming it, its inputs, the reason).
            TvTimeoutError: the server stopped answering before the first page.

        Example:
            >>> async def main() -> None:
            ...     async with Client() as client:
            ...         hist = await client.history("BINANCE:BTCUSDT", "1h", 2000)
            ...         since = await client.history("BINANCE:BTCUSDT", "1h", start="2024-01-01")
        """
        sym = parse_symbol(symbol)
        iv = parse_interval(interval)
        window = Window.of(iv, n_bars, start, end)
        check_choice("adjustment", adjustment, ADJUSTMENTS)
        check_choice("session", session, SESSIONS)
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise InvalidArgumentError(f"timeout={timeout!r} must be a positive number of seconds")
        reset = _call_timeout.set(timeout)
        try:
            return await self._history(sym, iv, window, adjustment, session, indicators)
        finally:
            _call_timeout.reset(reset)

    async def _history(
        self,
        sym: Symbol,
        iv: Interval,
        window: Window,
        adjustment: str,
        session: str,
        indicators: IndicatorLike | Sequence[IndicatorLike],
    ) -> History:
        from tvframe import studies

        specs = studies.check_indicators(indicators)
        specs = await studies.resolve_indicators(
            specs, self.url, _call_timeout.get() or self.timeout
        )
        cs = new_id("cs_")
        route = _OneShot()
        self.add_route(cs, route)
        what = f"history of {sym} {iv}"
        try:
            await self.send(
                open_series_calls(
                    cs,
                    sym,
                    iv.resolution,
                    window.first_request(),
                    adjustment=adjustment,
                    symbol_session=session,
                )
            )
            info, bars = await self._collect_pages(cs, route.queue, sym, window, what)
            values = await studies.load_studies(
                self.send, lambda w: self._next(route.queue, w), cs, specs, what
            )
        finally:
            self.remove_route(cs)
            if self.is_open and self._up.is_set():
                await self.send([("chart_delete_session", [cs])])
        shortfall = window.shortfall(bars)
        bars = window.cut(bars)
        if shortfall:
            warnings.warn(ShortHistoryWarning(f"{sym} {iv}: {shortfall}"), stacklevel=3)
        aligned = tuple(studies.align(v, bars.time) for v in values)
        return History(sym, iv, bars, info, window.n_bars or len(bars), aligned)

    async def _collect_pages(
        self,
        cs: str,
        queue: asyncio.Queue[Event | TvFrameError],
        sym: Symbol,
        window: Window,
        what: str,
    ) -> tuple[SymbolInfo, Bars]:
        info: SymbolInfo | None = None
        merged = Bars.empty()  # every completed page, merged once per page
        fresh: list[Bars] = []  # what arrived since the last series_completed
        while True:
            try:
                event = await self._next(queue, what)
            except TvTimeoutError:
                if not (fresh or len(merged)):
                    raise
                # Throttled servers may never complete a later page (USERS.md): keep what came.
                logger.warning(
                    "%s: a later page never completed; keeping %d bars", what, len(merged)
                )
                break
            if isinstance(event, SymbolResolved):
                info = SymbolInfo.from_server(event.info)
            elif isinstance(event, (TimescaleUpdate, DataUpdate)):
                fresh.extend(s.bars for s in event.series if s.series_id == SERIES_ID)
            elif isinstance(event, SeriesCompleted) and event.series_id == SERIES_ID:
                before = len(merged)
                merged = merge_bars([merged, *fresh])
                fresh = []
                missing = window.missing(merged)
                if not missing or len(merged) == before:
                    break
                await self.send([("request_more_data", [cs, SERIES_ID, missing])])
            elif isinstance(event, SymbolErrorEvent):
                raise InvalidSymbolError(
                    f"the server does not know symbol {sym.full_name!r} ({event.reason})",
                    [sym.full_name],
                )
            elif isinstance(event, SeriesErrorEvent):
                raise SeriesError(f"{what}: the server refused the series: {event.reason}")
            elif isinstance(event, CriticalErrorEvent):
                raise CriticalError(f"{what}: {event.reason} ({event.info})")
        return info or SymbolInfo(symbol=sym.full_name), merge_bars([merged, *fresh])


@dataclass(frozen=True, slots=True)
class Window:
    """Which bars a history call wants: the latest ``n_bars``, or all from ``start``; up to ``end``.

    Times are UTC epoch seconds; ``end`` is exclusive. Bar times are whole seconds, so the
    server is asked for bars at or before ``ceil(end) - 1`` (``protocol.md`` §3, ``bar_count``).
    """

    interval: Interval
    n_bars: int | None
    start: float | None
    end: float | None

    @classmethod
    def of(
        cls,
        interval: Interval,
        n_bars: int | None,
        start: TimeLike | None,
        end: TimeLike | None,
    ) -> Window:
        """Validate the arguments of a history call (before any I/O)."""
        if n_bars is not None and start is not None:
            raise InvalidArgumentError(
                f"give n_bars={n_bars!r} or start={start!r}, not both: n_bars counts back "
                "from the end, start fixes the first bar"
            )
        first = None if start is None else to_epoch(start, "start")
        last = None if end is None else to_epoch(end, "end")
        if first is not None and last is not None and first >= last:
            raise InvalidArgumentError(f"start={start!r} is not before end={end!r}")
        n = check_n_bars(n_bars) if n_bars is not None else None
        return cls(interval, DEFAULT_BARS if n is None and first is None else n, first, last)

    def _estimate(self, newest: float) -> int:
        """Bars between ``start`` and ``newest``, as if the market never closed (an upper bound)."""
        assert self.start is not None
        return max(1, min(MAX_BARS, math.ceil((newest - self.start) / self.interval.seconds) + 1))

    def first_request(self) -> int | list[Any]:
        """The ``create_series`` bar count: a number, or ``["bar_count", to, n]`` with an end."""
        count = self.n_bars if self.n_bars is not None else self._estimate(self.end or time.time())
        if self.end is None:
            return count
        return ["bar_count", math.ceil(self.end) - 1, count]

    def missing(self, bars: Bars) -> int:
        """How many older bars to ask for next; 0 when the window is covered."""
        if self.n_bars is not None:
            return max(0, self.n_bars - len(bars))
        if not len(bars):
            return 0  # nothing at all: paging cannot help
        oldest = float(bars.time[0])
        return 0 if oldest <= (self.start or 0.0) else self._estimate(oldest)

    def cut(self, bars: Bars) -> Bars:
        """Trim what paging over-fetched."""
        if self.end is not None:
            bars = select_bars(bars, bars.time < self.end)
        if self.start is not None:
            return select_bars(bars, bars.time >= self.start)
        if self.n_bars is not None and len(bars) > self.n_bars:
            return select_bars(bars, slice(len(bars) - self.n_bars, None))
        return bars

    def shortfall(self, fetched: Bars) -> str:
        """What the server could not give, in words (empty when nothing is missing).

        ``fetched`` is everything paging returned, before :meth:`cut`: the window is covered
        when it reached back to ``start`` (a market closed at ``start`` is not a shortfall).
        """
        if self.n_bars is not None:
            if len(fetched) >= self.n_bars:
                return ""
            return (
                f"asked for {self.n_bars} bars, the server has {len(fetched)} "
                f"({self.n_bars - len(fetched)} short); returning what exists"
            )
        assert self.start is not None
        if len(fetched) and fetched.time[0] <= self.start:
            return ""
        begins = format_epoch(float(fetched.time[0])) if len(fetched) else "nowhere"
        return (
            f"asked from {format_epoch(self.start)}, the server's history reaches back to "
            f"{begins}; returning what exists"
        )
