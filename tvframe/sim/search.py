"""Symbol search over HTTP, answered the way ``symbol-search.tradingview.com`` does (§1.4). No I/O.

``GET /symbol_search/v3/?text=&exchange=&search_type=&start=&hl=`` answers
``{"symbols_remaining": N, "symbols": [...]}`` fifty at a time from ``start``; the legacy
``GET /symbol_search/?text=&exchange=&type=`` answers a bare JSON list (one page). Matching is
case-insensitive: every word of ``text`` must occur in the ticker or the description; exact
tickers rank first, then ticker prefixes, ticker substrings, description word prefixes, the
rest, each group in catalogue order, so answers are deterministic. ``hl=1`` wraps the matched
words in ``<em>`` tags. Bad query values get HTTP 400 with a JSON ``{"error", "message"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tvframe.sim.catalogue import CATALOGUE, SimSymbol

__all__ = ["PAGE_SIZE", "SEARCH_TYPES", "HttpAnswer", "SearchQuery", "answer", "search"]

#: Symbols per page of the v3 endpoint (and the legacy endpoint's only page).
PAGE_SIZE = 50
#: Instrument types a search can be narrowed to (the catalogue's own types).
SEARCH_TYPES: tuple[str, ...] = tuple(sorted({s.type for s in CATALOGUE.values()}))

_V3_PATHS = ("/symbol_search/v3/", "/symbol_search/v3")
_LEGACY_PATHS = ("/symbol_search/", "/symbol_search")
# What the web app sends for "all types" (``search_type=undefined``) and aliases of real types.
_TYPE_NAMES: Mapping[str, str | None] = {
    "": None, "undefined": None, "all": None, "stocks": "stock", "indices": "index",
    **{t: t for t in SEARCH_TYPES},
}  # fmt: skip
_MAX_TEXT = 200
_MAX_START = 1_000_000
_EXCHANGE = re.compile(r"^[A-Za-z0-9_]{0,32}$")
# Display names where TradingView's ``exchange`` field differs from the symbol prefix; such
# entries carry ``prefix`` (crypto venues do on the real service).
_EXCHANGE_NAMES: Mapping[str, str] = {
    "BINANCE": "Binance", "COINBASE": "Coinbase", "CME_MINI": "CME", "SP": "S&P",
}  # fmt: skip


class _BadQuery(ValueError):
    """A query value the endpoint refuses (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP answer of the search endpoints.

    Attributes:
        status: HTTP status code.
        text: JSON body.
    """

    status: int
    text: str


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search.

    Attributes:
        text: What to look for (upper-cased); empty matches every symbol.
        exchange: Exchange prefix to keep (upper-cased), empty for all.
        type: Instrument type to keep, ``None`` for all.
        start: Offset of the first symbol returned.
        highlight: Wrap the matched words in ``<em>`` tags.

    Example:
        >>> [s.full_name for s in search(SearchQuery("aapl"))][:1]
        ['NASDAQ:AAPL']
    """

    text: str
    exchange: str = ""
    type: str | None = None
    start: int = 0
    highlight: bool = False

    @property
    def words(self) -> list[str]:
        """The words every match must contain."""
        return self.text.upper().split()


def answer(target: str) -> HttpAnswer | None:
    """Answer ``GET target`` (path and query string), or ``None`` if it is not a search path.

    Example:
        >>> found = answer("/symbol_search/v3/?text=btcusdt&exchange=binance")
        >>> found.status, orjson.loads(found.text)["symbols"][0]["prefix"]
        (200, 'BINANCE')
        >>> answer("/symbol_search/v3/?text=x&start=-1").status, answer("/other") is None
        (400, True)
    """
    parts = urlsplit(target)
    if parts.path not in _V3_PATHS + _LEGACY_PATHS:
        return None
    legacy = parts.path in _LEGACY_PATHS
    try:
        query = _parse(parts.query, type_key="type" if legacy else "search_type")
    except _BadQuery as exc:
        return HttpAnswer(400, _dumps({"error": "bad_request", "message": str(exc)}))
    found = search(query)
    page = [_entry(symbol, query) for symbol in found[query.start : query.start + PAGE_SIZE]]
    if legacy:
        return HttpAnswer(200, _dumps(page))
    remaining = max(0, len(found) - query.start - len(page))
    return HttpAnswer(200, _dumps({"symbols_remaining": remaining, "symbols": page}))


def search(query: SearchQuery, symbols: Iterable[SimSymbol] | None = None) -> list[SimSymbol]:
    """Every symbol matching ``query``, best first (``query.start`` is not applied).

    Args:
        query: What to look for.
        symbols: Where to look; the whole catalogue (with its universe) when omitted.

    Example:
        >>> [s.full_name for s in search(SearchQuery("bitcoin", type="crypto"))]
        ['BINANCE:BTCUSDT', 'BINANCE:BTCEUR', 'COINBASE:BTCUSD']
    """
    words = query.words
    needle = "".join(words)
    ranked: list[tuple[int, int, SimSymbol]] = []
    for order, symbol in enumerate(CATALOGUE.values() if symbols is None else symbols):
        if query.exchange and symbol.exchange != query.exchange:
            continue
        if query.type is not None and symbol.type != query.type:
            continue
        ticker, description = symbol.ticker.upper(), symbol.description.upper()
        if all(word in ticker or word in description for word in words):
            ranked.append((_rank(needle, ticker, description), order, symbol))
    ranked.sort(key=lambda item: item[:2])
    return [symbol for _, _, symbol in ranked]


def _rank(needle: str, ticker: str, description: str) -> int:
    if ticker == needle:
        return 0
    if ticker.startswith(needle):
        return 1
    if needle in ticker:
        return 2
    if any(word.startswith(needle) for word in description.split()):
        return 3
    return 4


def _parse(query_string: str, type_key: str) -> SearchQuery:
    try:
        params = parse_qs(query_string, keep_blank_values=True, max_num_fields=32)
    except ValueError as exc:
        raise _BadQuery(f"unreadable query string: {exc}") from None

    def first(name: str) -> str:
        return params.get(name, [""])[0]

    text = first("text").strip()
    if len(text) > _MAX_TEXT:
        raise _BadQuery(f"text is longer than {_MAX_TEXT} characters")
    exchange = first("exchange").strip()
    if ":" in text:  # "NASDAQ:AAPL" searches AAPL on NASDAQ unless exchange= says otherwise
        prefix, _, text = text.partition(":")
        exchange = exchange or prefix.strip()
    if not _EXCHANGE.match(exchange):
        raise _BadQuery(f"exchange {exchange[:40]!r} must be letters, digits or '_'")
    kind = first(type_key).strip().lower()
    if kind not in _TYPE_NAMES:
        raise _BadQuery(
            f"{type_key} {kind[:40]!r} is not one of {', '.join(SEARCH_TYPES)} (or empty for all)"
        )
    start = first("start").strip() or "0"
    if not start.isdigit() or not start.isascii() or int(start) > _MAX_START:
        raise _BadQuery(f"start {start[:40]!r} must be an integer from 0 to {_MAX_START}")
    hl = first("hl").strip()
    if hl not in ("", "0", "1"):
        raise _BadQuery(f"hl {hl[:40]!r} must be 0 or 1")
    return SearchQuery(text.strip().upper(), exchange.upper(), _TYPE_NAMES[kind], int(start),
                       hl == "1")  # fmt: skip


def _entry(symbol: SimSymbol, query: SearchQuery) -> dict[str, Any]:
    """One result the way TradingView lists it: ``prefix`` only when the exchange name differs."""
    words = query.words if query.highlight else []
    name = _EXCHANGE_NAMES.get(symbol.exchange, symbol.exchange)
    entry: dict[str, Any] = {
        "symbol": _highlight(symbol.ticker, words),
        "description": _highlight(symbol.description, words),
        "type": symbol.type,
        "exchange": name,
        "currency_code": symbol.currency,
    }
    if name != symbol.exchange:
        entry["prefix"] = symbol.exchange
    entry.update(
        {
            "provider_id": symbol.exchange.lower(),
            "source2": {"id": symbol.exchange, "name": name, "description": name},
            "source_id": symbol.exchange,
            "typespecs": [],
        }
    )
    return entry


def _highlight(text: str, words: list[str]) -> str:
    """``text`` with the first occurrence of each word wrapped in ``<em>`` (overlaps merged)."""
    upper = text.upper()
    spans: list[list[int]] = []
    for word in words:
        at = upper.find(word)
        if at >= 0:
            spans.append([at, at + len(word)])
    merged: list[list[int]] = []
    for span in sorted(spans):
        if merged and span[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    out, cursor = [], 0
    for begin, end in merged:
        out += [text[cursor:begin], "<em>", text[begin:end], "</em>"]
        cursor = end
    return "".join([*out, text[cursor:]])


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
