"""Side HTTP GETs beside the chart WebSocket (``protocol.md`` §1.4): symbol search, Pine metadata.

Standard library only (``urllib`` in a worker thread). Every service follows the WebSocket
endpoint: TradingView's own socket talks to TradingView's services, any other host (a proxy,
the simulator) is asked on its own host and port. Bodies are capped; transport and HTTP
failures are mapped to tvframe's errors here, once.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tvframe.errors import (
    MessageError,
    RateLimitError,
    ServerError,
    TvFrameError,
    TvTimeoutError,
    WebSocketException,
)

__all__ = ["MAX_BODY", "ORIGIN", "Reply", "get", "service_url"]

#: The Origin TradingView's services expect (the web app's).
ORIGIN = "https://www.tradingview.com"
#: Largest body read from any service.
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: its status and its body."""

    status: int
    body: bytes


def _is_tradingview(host: str) -> bool:
    return host == "tradingview.com" or host.endswith(".tradingview.com")


def service_url(ws_url: str, tradingview_host: str, path: str) -> str:
    """The URL of a side service for the WebSocket endpoint ``ws_url``.

    A socket under ``tradingview.com`` uses ``https://<tradingview_host><path>``; any other
    host is asked on the same host and port, ``ws`` becoming ``http`` and ``wss`` ``https``.

    Example:
        >>> service_url("ws://127.0.0.1:8765/socket.io/websocket", "x.tradingview.com", "/a/")
        'http://127.0.0.1:8765/a/'
        >>> service_url("wss://data.tradingview.com/socket.io/websocket", "x.tradingview.com", "/")
        'https://x.tradingview.com/'
    """
    parts = urlsplit(ws_url)
    if _is_tradingview(parts.hostname or ""):
        return urlunsplit(("https", tradingview_host, path, "", ""))
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _get_blocking(url: str, timeout: float, service: str, allow: Collection[int]) -> Reply:
    """One GET, blocking; statuses outside 2xx and ``allow`` raise."""
    host = urlsplit(url).netloc
    request = urllib.request.Request(
        url, headers={"Origin": ORIGIN, "Accept": "application/json", "User-Agent": "tvframe/0.1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status: int = response.status
            body: bytes = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read(MAX_BODY + 1)
        if exc.code not in allow:
            raise _status_error(exc.code, body, host, service) from exc
        status = exc.code
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise TvTimeoutError(
                f"no answer from {service} at {host} within {timeout:.1f}s"
            ) from exc
        raise WebSocketException(f"could not reach {service} at {host}: {reason}") from exc
    if len(body) > MAX_BODY:
        raise MessageError(f"{service} at {host} sent more than {MAX_BODY} bytes")
    return Reply(status, body)


def _status_error(code: int, body: bytes, host: str, service: str) -> TvFrameError:
    if code == 429:
        return RateLimitError(
            f"{host} refused {service} with HTTP 429 (too many requests); back off before retrying"
        )
    snippet = body[:200].decode("utf-8", "replace")
    return ServerError(f"{service} at {host} failed: HTTP {code} {snippet!r}")


async def get(url: str, timeout: float, service: str, *, allow: Collection[int] = ()) -> Reply:
    """GET ``url`` in a worker thread, released at the deadline whatever the server does.

    A server trickling bytes slowly enough to keep each socket read within its own timeout
    still cannot hold the caller past ``timeout``.

    Args:
        url: What to fetch.
        timeout: Seconds the whole answer may take.
        service: The service's name for error messages (``"the symbol search"``).
        allow: Error statuses returned as a :class:`Reply` instead of raised.

    Raises:
        RateLimitError: HTTP 429.
        ServerError: any other error status not in ``allow``.
        MessageError: a body over :data:`MAX_BODY`.
        WebSocketException: the host cannot be reached.
        TvTimeoutError: no complete answer within ``timeout``.

    Example:
        >>> async def main() -> None:
        ...     reply = await get("http://127.0.0.1:8765/x", 5.0, "the x service", allow={404})
    """
    fetch = asyncio.ensure_future(asyncio.to_thread(_get_blocking, url, timeout, service, allow))
    try:
        done, _ = await asyncio.wait({fetch}, timeout=timeout)
    finally:
        fetch.cancel()  # the thread ends by its own socket timeout; nobody waits for it
    if not done:
        raise TvTimeoutError(
            f"no complete answer from {service} at {urlsplit(url).netloc} within {timeout:.1f}s"
        )
    return fetch.result()
