"""Pooled clients on the shared loop: one socket per endpoint and token, reused by every call.

Loops of downloads never open a connection each (the pattern that gets users banned). Every
function here runs on the shared loop thread (:mod:`tvframe.loop`); :func:`on_shared_loop`
carries a coroutine there from whatever loop the caller is on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import SecretStr

from tvframe.client import Client, backoff, is_transient_refusal, resolve_token, resolve_url
from tvframe.errors import ConnectionClosed, WebSocketException
from tvframe.loop import add_cleanup, shared_loop

__all__ = ["on_shared_loop", "shared_client", "with_client"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
# Dials of a new pooled socket refused with HTTP 429/5xx before the refusal is raised.
_CONNECT_ATTEMPTS = 5

# Touched only on the shared loop thread.
_clients: dict[tuple[str, str], Client] = {}
_client_locks: dict[tuple[str, str], asyncio.Lock] = {}


async def shared_client(
    url: str | None, token: str | SecretStr | None, timeout: float, stale: Client | None = None
) -> Client:
    """The pooled client for (url, token); ``stale`` is a client found dead in use."""
    resolved_url = resolve_url(url)
    secret = resolve_token(token)
    # The key holds the token in memory only; it is never logged or shown.
    key = (resolved_url, secret.get_secret_value())
    lock = _client_locks.setdefault(key, asyncio.Lock())
    async with lock:
        client = _clients.get(key)
        if client is None or not client.is_open or client is stale:
            if client is not None:
                await client.close()
            client = await _connect(resolved_url, secret, timeout)
            _clients[key] = client
        return client


async def _connect(url: str, secret: SecretStr, timeout: float) -> Client:
    """A connected client; a transient refusal is dialed again after a ``backoff()`` delay.

    At most ``_CONNECT_ATTEMPTS`` dials, and no delay that would end past ``timeout``; then
    the refusal is raised, naming the attempts. Anything else (auth, unreachable host) is
    raised at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delays = backoff()
    attempt = 0
    while True:
        attempt += 1
        client = Client(url, secret, timeout=timeout)
        try:
            await client.connect()
        except WebSocketException as exc:
            delay = next(delays)
            if not is_transient_refusal(exc):
                raise
            if attempt >= _CONNECT_ATTEMPTS or loop.time() + delay > deadline:
                raise type(exc)(
                    f"{exc} (gave up after {attempt} attempt{'s' if attempt > 1 else ''})"
                ) from exc
            logger.warning("%s; dialing again in %.2fs (attempt %d)", exc, delay, attempt)
            await asyncio.sleep(delay)
            continue
        return client


async def with_client(
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
    call: Callable[[Client], Awaitable[_T]],
) -> _T:
    """Run ``call`` on the pooled client; a pooled socket found closed is replaced once.

    A pooled socket can die between calls (server restart, idle close) before its reader
    notices; the request is idempotent, so one retry on a fresh socket is safe.
    """
    client = await shared_client(url, token, timeout)
    try:
        return await call(client)
    except ConnectionClosed:
        client = await shared_client(url, token, timeout, stale=client)
        return await call(client)


async def _close_all() -> None:
    clients = list(_clients.values())
    _clients.clear()
    for client in clients:
        await client.close()


add_cleanup(_close_all)


async def on_shared_loop(coro: Coroutine[Any, Any, _T]) -> _T:
    """Await ``coro`` on the shared loop from whatever loop the caller is on."""
    loop = shared_loop()
    if asyncio.get_running_loop() is loop.loop:
        return await coro
    return await asyncio.wrap_future(loop.submit(coro))
