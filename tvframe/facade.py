"""The sync API (``tv.history``) and its async twins (``await tv.ahistory``).

Every connection lives on the shared background loop (:mod:`tvframe.loop`), whichever API is
used, so one socket per endpoint and token is reused across calls (loops of downloads do
not open a connection each, the pattern that gets users banned). Each sync function is a
one-line delegator to its async twin's implementation, with the same signature.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from tvframe.client import Client, History, resolve_token, resolve_url
from tvframe.errors import ConnectionClosed
from tvframe.frames import Backend, check_backend, to_pandas, to_polars
from tvframe.intervals import Interval
from tvframe.loop import add_cleanup, shared_loop
from tvframe.symbols import Symbol

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["ahistory", "history"]

_T = TypeVar("_T")

# Touched only on the shared loop thread.
_clients: dict[tuple[str, str], Client] = {}
_client_locks: dict[tuple[str, str], asyncio.Lock] = {}


async def _shared_client(
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
            client = Client(resolved_url, secret, timeout=timeout)
            await client.connect()
            _clients[key] = client
        return client


async def _with_client(
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
    call: Callable[[Client], Awaitable[_T]],
) -> _T:
    """Run ``call`` on the pooled client; a pooled socket found closed is replaced once.

    A pooled socket can die between calls (server restart, idle close) before its reader
    notices; the request is idempotent, so one retry on a fresh socket is safe.
    """
    client = await _shared_client(url, token, timeout)
    try:
        return await call(client)
    except ConnectionClosed:
        client = await _shared_client(url, token, timeout, stale=client)
        return await call(client)


async def _close_all() -> None:
    clients = list(_clients.values())
    _clients.clear()
    for client in clients:
        await client.close()


add_cleanup(_close_all)


async def _on_shared_loop(coro: Coroutine[Any, Any, _T]) -> _T:
    """Await ``coro`` on the shared loop from whatever loop the caller is on."""
    loop = shared_loop()
    if asyncio.get_running_loop() is loop.loop:
        return await coro
    return await asyncio.wrap_future(loop.submit(coro))


def _frame(hist: History, backend: Backend) -> pd.DataFrame | pl.DataFrame:
    if backend == "polars":
        return to_polars(hist.bars, hist.symbol.full_name)
    return to_pandas(
        hist.bars,
        hist.symbol.full_name,
        attrs={"tvframe": hist.info.model_dump(exclude={"raw"}), "interval": hist.interval.text},
    )


async def _history(
    symbol: str | Symbol,
    interval: str | Interval,
    n_bars: int,
    backend: str,
    adjustment: str,
    session: str,
    url: str | None,
    token: str | SecretStr | None,
    timeout: float,
) -> pd.DataFrame | pl.DataFrame:
    chosen = check_backend(backend)
    hist = await _with_client(
        url,
        token,
        timeout,
        lambda c: c.history(symbol, interval, n_bars, adjustment=adjustment, session=session),
    )
    return _frame(hist, chosen)


async def ahistory(
    symbol: str | Symbol,
    interval: str | Interval,
    n_bars: int = 5000,
    *,
    backend: str = "pandas",
    adjustment: str = "splits",
    session: str = "regular",
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """Async twin of :func:`history`, for code already inside an event loop.

    Example:
        >>> async def main() -> None:
        ...     df = await ahistory("NASDAQ:AAPL", "5m", 500)
    """
    return await _on_shared_loop(
        _history(symbol, interval, n_bars, backend, adjustment, session, url, token, timeout)
    )


def history(
    symbol: str | Symbol,
    interval: str | Interval,
    n_bars: int = 5000,
    *,
    backend: str = "pandas",
    adjustment: str = "splits",
    session: str = "regular",
    url: str | None = None,
    token: str | SecretStr | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """The latest ``n_bars`` bars of one symbol as a DataFrame.

    pandas (default): indexed by tz-aware UTC ``time``, columns ``symbol, open, high, low,
    close, volume`` (float64), ascending, no duplicate times; the symbol's metadata is in
    ``df.attrs["tvframe"]``. ``backend="polars"``: the same with ``time`` as the first column.
    The last row is the bar still forming. Asking for more bars than exist returns what
    exists and warns (:class:`~tvframe.errors.ShortHistoryWarning`).

    Args:
        symbol: ``EXCHANGE:SYMBOL``.
        interval: ``1m 5m 15m 30m 1h 2h 4h 1d 1w 1M`` (``m`` minute, ``M`` month) or ``<n><unit>``.
        n_bars: how many bars, 1 to 1 000 000; pages beyond the server's per-request cap.
        backend: ``"pandas"`` or ``"polars"``.
        adjustment: ``"splits"`` or ``"dividends"``.
        session: ``"regular"`` or ``"extended"`` (pre/post-market where the exchange has one).
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        timeout: seconds any wait on the server may take.

    Raises:
        InvalidSymbolError: malformed (before any network call) or unknown to the server.
        InvalidIntervalError: bad interval spelling (before any network call).
        InvalidArgumentError: ``n_bars``, ``backend``, ``adjustment`` or ``session`` out of range.
        AuthError: the token was rejected.
        TvTimeoutError: the server stopped answering.

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running():
        ...     df = tv.history("NASDAQ:AAPL", "5m", 500)
        >>> len(df)
        500
    """
    return shared_loop().run(
        _history(symbol, interval, n_bars, backend, adjustment, session, url, token, timeout)
    )
