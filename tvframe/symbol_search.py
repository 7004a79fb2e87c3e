"""Symbol search: TradingView's HTTP symbol search (``protocol.md`` §1.4) into a DataFrame.

HTTP goes through :mod:`tvframe.http`. The answer is untrusted: the body is capped, its shape
checked, malformed entries skipped (and counted in the log). The search URL follows the
WebSocket endpoint, so a proxy or the simulator answers searches too.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import orjson

from tvframe.client import resolve_url
from tvframe.errors import InvalidArgumentError, MessageError, TvTimeoutError
from tvframe.frames import Backend, check_backend
from tvframe.http import get, service_url
from tvframe.loop import shared_loop

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["MAX_LIMIT", "SEARCH_COLUMNS", "TRADINGVIEW_SEARCH_URL", "asearch", "search",
           "search_url"]  # fmt: skip

logger = logging.getLogger(__name__)

#: TradingView's search service, used whenever the WebSocket endpoint is TradingView's own.
TRADINGVIEW_SEARCH_URL = "https://symbol-search.tradingview.com/symbol_search/v3/"
#: Largest ``limit`` accepted (twenty pages of fifty).
MAX_LIMIT = 1000
#: Columns of a search frame, all strings; ``symbol`` is ``EXCHANGE:TICKER``.
SEARCH_COLUMNS: tuple[str, ...] = (
    "symbol", "ticker", "exchange", "description", "type", "currency", "exchange_name",
    "provider", "country",
)  # fmt: skip

_ENV_URL = "TVFRAME_SEARCH_URL"
_HOST = "symbol-search.tradingview.com"
_PATH = "/symbol_search/v3/"
_SERVICE = "the symbol search"
_MAX_PAGES = 100
_MAX_TEXT = 200
_TAGS = re.compile(r"</?em>", re.IGNORECASE)


def search_url(url: str | None = None) -> str:
    """The search endpoint: ``url``, else ``TVFRAME_SEARCH_URL``, else derived from the socket's.

    A WebSocket endpoint under ``tradingview.com`` searches TradingView's service; any other
    host (a proxy, the simulator) is asked on the same host and port, ``ws`` becoming
    ``http`` and ``wss`` ``https``, at ``/symbol_search/v3/``.

    Raises:
        InvalidArgumentError: the URL is not ``http(s)://host/...``.

    Example:
        >>> search_url("http://127.0.0.1:8765/symbol_search/v3/")
        'http://127.0.0.1:8765/symbol_search/v3/'
    """
    chosen = url or os.environ.get(_ENV_URL)
    if chosen is None:
        return service_url(resolve_url(), _HOST, _PATH)
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(
            f"invalid search url {chosen!r}: expected http(s)://host[:port]/symbol_search/v3/"
        )
    return chosen


def _check(text: str, exchange: str | None, type: str | None, limit: int) -> tuple[str, str]:
    """Validate the arguments; returns the text and exchange to send (``EX:TEXT`` split)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(f"text={text!r} must be a non-empty string, e.g. 'aapl'")
    if len(text) > _MAX_TEXT:
        raise InvalidArgumentError(f"text is {len(text)} characters long: use at most {_MAX_TEXT}")
    for name, value in (("exchange", exchange), ("type", type)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidArgumentError(f"{name}={value!r} must be a non-empty string or None")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit={limit!r} must be an integer from 1 to {MAX_LIMIT}")
    words = text.strip()
    if exchange is None and ":" in words:
        # TradingView's own clients split "NASDAQ:AAPL" the same way.
        prefix, _, words = words.partition(":")
        return words.strip(), prefix.strip()
    return words, (exchange or "").strip()


def _page(body: bytes) -> tuple[list[Any], int]:
    """The ``symbols`` list and ``symbols_remaining`` of a v3 answer, shape-checked."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MessageError(f"the symbol search did not answer JSON: {exc}") from None
    symbols = data.get("symbols") if isinstance(data, dict) else None
    remaining = data.get("symbols_remaining") if isinstance(data, dict) else None
    if (
        not isinstance(symbols, list)
        or isinstance(remaining, bool)
        or not isinstance(remaining, int)
        or remaining < 0
    ):
        raise MessageError(
            "the symbol search answered an unexpected shape: expected "
            '{"symbols_remaining": <int >= 0>, "symbols": [...]}'
        )
    return symbols, remaining


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return _TAGS.sub("", value).strip() if isinstance(value, str) else None


def _row(entry: object) -> dict[str, str | None] | None:
    """One frame row from one result, or ``None`` when the entry is malformed."""
    if not isinstance(entry, dict):
        return None
    ticker = _text(entry, "symbol")
    exchange_name = _text(entry, "exchange")
    prefix = _text(entry, "prefix") or (exchange_name or "").split(" ")[0].upper()
    if not ticker or not prefix:
        return None
    source = entry.get("source2")
    return {
        "symbol": f"{prefix}:{ticker}",
        "ticker": ticker,
        "exchange": prefix,
        "description": _text(entry, "description"),
        "type": _text(entry, "type"),
        "currency": _text(entry, "currency_code"),
        "exchange_name": (_text(source, "name") if isinstance(source, dict) else None)
        or exchange_name,
        "provider": _text(entry, "provider_id"),
        "country": _text(entry, "country"),
    }


async def _collect(
    base: str, text: str, exchange: str, type: str | None, limit: int, timeout: float
) -> list[dict[str, str | None]]:
    """Page through the answers until ``limit`` rows, the last page, or the deadline."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, str | None]] = []
    skipped = start = 0
    for _ in range(_MAX_PAGES):
        params = {"text": text, "exchange": exchange, "search_type": type or "", "start": start,
                  "lang": "en", "domain": "production", "hl": 1}  # fmt: skip
        left = deadline - time.monotonic()
        if left <= 0:
            raise TvTimeoutError(f"the symbol search did not finish within {timeout}s")
        url = f"{base}{'&' if urlsplit(base).query else '?'}{urlencode(params)}"
        symbols, remaining = _page((await get(url, left, _SERVICE)).body)
        for entry in symbols:
            row = _row(entry)
            if row is None:
                skipped += 1
            elif len(rows) < limit:
                rows.append(row)
        start += len(symbols)
        if len(rows) >= limit or remaining == 0 or not symbols:
            break
    if skipped:
        logger.warning("the symbol search sent %d malformed entries; they were skipped", skipped)
    return rows


def _frame(rows: list[dict[str, str | None]], backend: Backend) -> pd.DataFrame | pl.DataFrame:
    columns = {name: [row[name] for row in rows] for name in SEARCH_COLUMNS}
    frame: pd.DataFrame | pl.DataFrame
    if backend == "polars":
        import polars as pl

        frame = pl.DataFrame([pl.Series(n, v, dtype=pl.String) for n, v in columns.items()])
    else:
        import pandas as pd

        frame = pd.DataFrame({n: pd.Series(v, dtype="string") for n, v in columns.items()})
    return frame


async def asearch(
    text: str,
    exchange: str | None = None,
    type: str | None = None,
    *,
    limit: int = 50,
    backend: str = "pandas",
    url: str | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """Async twin of :func:`search`.

    Example:
        >>> async def main() -> None:
        ...     df = await asearch("bitcoin", type="crypto")
    """
    chosen = check_backend(backend)
    words, venue = _check(text, exchange, type, limit)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidArgumentError(f"timeout={timeout!r} must be a positive number of seconds")
    rows = await _collect(search_url(url), words, venue, type, limit, float(timeout))
    return _frame(rows, chosen)


def search(
    text: str,
    exchange: str | None = None,
    type: str | None = None,
    *,
    limit: int = 50,
    backend: str = "pandas",
    url: str | None = None,
    timeout: float = 30.0,
) -> pd.DataFrame | pl.DataFrame:
    """Find symbols by ticker or description, best match first, as a DataFrame.

    One row per result in the server's order, string columns :data:`SEARCH_COLUMNS`:
    ``symbol`` (``EXCHANGE:TICKER``, ready for :func:`tvframe.history`), ``ticker``,
    ``exchange``, ``description``, ``type``, ``currency``, ``exchange_name`` (the venue's
    display name), ``provider``, ``country``. No result gives an empty frame with the columns.

    Args:
        text: What to look for; ``"NASDAQ:AAPL"`` means text ``AAPL`` on exchange ``NASDAQ``.
        exchange: Keep one exchange (``"NASDAQ"``, ``"BINANCE"``); default all.
        type: Keep one type (``"stock"``, ``"crypto"``, ``"forex"``, ``"futures"``,
            ``"index"`` ...); default all.
        limit: Most rows returned, 1 to :data:`MAX_LIMIT`; pages of 50 are fetched as needed.
        backend: ``"pandas"`` or ``"polars"``.
        url: Search endpoint; default ``TVFRAME_SEARCH_URL`` or the one beside the WebSocket
            endpoint (see :func:`search_url`).
        timeout: Seconds the whole search may take.

    Raises:
        InvalidArgumentError: empty ``text``, bad ``limit``, ``backend``, ``url`` or ``timeout``.
        RateLimitError: HTTP 429; back off.
        ServerError: any other HTTP error status.
        MessageError: the answer is not the JSON shape TradingView sends.
        WebSocketException: the search host cannot be reached (transport failure).
        TvTimeoutError: no complete answer within ``timeout``.

    Example:
        >>> import tvframe as tv
        >>> with tv.sim.running():
        ...     df = search("aapl")
        >>> df["symbol"].iloc[0]
        'NASDAQ:AAPL'
    """
    return shared_loop().run(asearch(text, exchange, type, limit=limit, backend=backend, url=url,
                                     timeout=timeout))  # fmt: skip
