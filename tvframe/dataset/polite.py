"""Politeness at volume: bounded sessions, an even request rate, backoff on rate-limit answers.

A download keeps ``connections`` sockets (each a :class:`Link`), ``concurrency`` chart
sessions at once on each, and starts at most ``rate`` series requests per second in total.
When the server refuses a handshake (HTTP 429) or drops the socket ("max sessions rate
reached", any close), the link waits a backoff delay (exponential with jitter, from
``backoff`` seconds up to 30) before it reconnects, and the request is tried again, up to
``retries`` times; a successful request resets the delays. Auth errors are never retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace

from pydantic import SecretStr

from tvframe.client import Client, backoff
from tvframe.errors import (
    AuthError,
    InvalidArgumentError,
    ProtocolError,
    TvFrameError,
    TvTimeoutError,
    WebSocketException,
)

__all__ = ["Endpoint", "Link", "Politeness", "RateLimiter", "is_connection_failure"]

logger = logging.getLogger(__name__)

_MAX_DELAY = 30.0


@dataclass(frozen=True, slots=True)
class Politeness:
    """How hard a download may press the server.

    Attributes:
        concurrency: chart sessions open at once on each connection.
        rate: series requests started per second, over all connections (None: no limit).
        connections: sockets open at once.
        retries: attempts after the first, per connection and per request, on refused
            handshakes and dropped sockets.
        backoff: the first backoff delay in seconds (it doubles up to 30 s).

    Example:
        >>> Politeness(rate=10.0, connections=4).share(4).rate
        2.5
    """

    concurrency: int = 8
    rate: float | None = 10.0
    connections: int = 1
    retries: int = 5
    backoff: float = 0.5

    def __post_init__(self) -> None:
        for name in ("concurrency", "connections"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name}={value!r} must be a whole number >= 1")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidArgumentError(f"retries={self.retries!r} must be a whole number >= 0")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise InvalidArgumentError(f"rate={self.rate!r} must be a positive number or None")
        if not (math.isfinite(self.backoff) and self.backoff >= 0):
            raise InvalidArgumentError(f"backoff={self.backoff!r} must be seconds >= 0")

    def share(self, parts: int) -> Politeness:
        """One of ``parts`` equal shares: one connection, its part of the rate."""
        rate = None if self.rate is None else self.rate / parts
        return replace(self, rate=rate, connections=1)

    def delays(self) -> Iterator[float]:
        """A fresh sequence of backoff delays."""
        return backoff(self.backoff, 2.0, max(self.backoff, _MAX_DELAY))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a download connects: resolved once, so every worker uses the same server.

    ``token`` None lets each process read its own ``TVFRAME_TOKEN`` (or go anonymous).
    """

    url: str
    token: SecretStr | None
    timeout: float


class RateLimiter:
    """Spaces request starts evenly: at most ``rate`` a second, the first one at once.

    Example:
        >>> limiter = RateLimiter(None)
        >>> asyncio.run(limiter.wait())
    """

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._gap = 0.0 if rate is None else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf

    async def wait(self) -> None:
        """Return when the next request may start."""
        if not self._gap:
            return
        now = self._clock()
        at = max(now, self._next)
        self._next = at + self._gap
        if at > now:
            await self._sleep(at - now)


def is_connection_failure(error: TvFrameError, client: Client) -> bool:
    """True when ``error`` is the socket's, not the series' (retry on a fresh connection).

    Example:
        >>> is_connection_failure(AuthError("bad token"), Client("ws://127.0.0.1:9/x"))
        False
    """
    if isinstance(error, AuthError):
        return False
    return isinstance(error, (WebSocketException, ProtocolError)) or not client.is_open


def server_clock(client: Client) -> float:
    """The server's time at the handshake (its hello's timestamp); the local clock if absent.

    The hello is the only clock the server shows before any data: it tells whether a newer
    bar can exist yet, so an up-to-date series is not requested at all.
    """
    # Client has no public accessor for its hello yet: this is the one place that reads it.
    hello = client._hello
    stamp = hello.result().timestamp_ms if hello is not None and hello.done() else None
    return time.time() if stamp is None else stamp / 1000.0


class Link:
    """One connection of a download: opened on first use, reopened with backoff after a drop.

    Example:
        >>> async def main(endpoint: Endpoint) -> None:
        ...     link = Link(endpoint, Politeness())
        ...     client = await link.client()
        ...     await link.close()
    """

    def __init__(self, endpoint: Endpoint, politeness: Politeness) -> None:
        self._endpoint = endpoint
        self._politeness = politeness
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._delays = politeness.delays()
        self._troubled = False

    async def client(self) -> Client:
        """The open client, connecting (after a backoff delay when troubled) if needed.

        Raises:
            AuthError: the token was rejected (never retried).
            WebSocketException: every attempt failed (the last failure).
        """
        async with self._lock:
            if self._client is None or not self._client.is_open:
                self._client = await self._open()
            return self._client

    async def _open(self) -> Client:
        last: TvFrameError | None = None
        for _ in range(self._politeness.retries + 1):
            if self._troubled:
                await asyncio.sleep(next(self._delays))
            client = Client(
                self._endpoint.url,
                self._endpoint.token,
                timeout=self._endpoint.timeout,
                reconnect=False,
            )
            try:
                await client.connect()
            except AuthError:
                raise
            except (WebSocketException, ProtocolError, TvTimeoutError) as exc:
                logger.warning("connecting to the server failed (%s); backing off", exc)
                last, self._troubled = exc, True
                continue
            return client
        assert last is not None
        raise last

    async def discard(self, client: Client, error: TvFrameError) -> None:
        """``client`` failed with ``error``: drop it; the next connection backs off first."""
        logger.warning("connection lost (%s); reconnecting after a backoff delay", error)
        async with self._lock:
            self._troubled = True
            if self._client is client:
                self._client = None
        await client.close()

    def succeeded(self) -> None:
        """A request went through: the next trouble starts the backoff delays afresh."""
        if self._troubled:
            self._troubled = False
            self._delays = self._politeness.delays()

    async def close(self) -> None:
        """Close the connection (safe to call twice)."""
        async with self._lock:
            client, self._client = self._client, None
        if client is not None:
            await client.close()
